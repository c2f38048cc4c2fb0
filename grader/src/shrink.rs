//! `--shrink`: the smallest set of faults under which a failing test
//! still fails.
//!
//! A test with random faults fails after, say, forty drops and duplicates,
//! of which one mattered. To find it, the run's random decisions become
//! explicit [network rules](crate::spec::Rule): each datagram the random
//! faults dropped becomes `drop: { from, to, type, nth: [k] }`, each one
//! they duplicated a `duplicate` rule, `k` counting the datagrams of that
//! type on that link as rules count them. The test is then run with its
//! random drops and duplicates turned off (its delays and jitter stay, as
//! do its own rules) and a subset of those rules, and the subsets shrink by
//! delta debugging (Zeller's *ddmin*) until removing any single rule makes
//! the test stop failing.
//!
//! A subset *fails* only when every one of [`TRIES`] runs of it fails
//! (a void run, where a rule's datagram never came, does not): a
//! program's own timing differs from run to run, and one lucky failure
//! must not shrink the set wrongly. The search is bounded, by
//! [`MAX_RUNS`] runs and [`MAX_TIME`], and says how it goes on stderr; at
//! the bound it stops with the smallest set found so far.
//!
//! The result is the rules as YAML, ready to paste into the test's
//! `network.rules`, and a file of extra tests holding the test shrunk
//! (`NAME-shrunk`: no random drops or duplicates, the rules added), which
//! `--extra-spec` replays.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::grade::run_one;
use crate::judge::{Status, Verdict};
use crate::kit::Programs;
use crate::pool::{Jobs, in_parallel};
use crate::run::record::{Fate, Record};
use crate::spec::plan::Action;
use crate::spec::{FaultSettings, LabSpec, Rule, RuleMatch, TestSpec, TypeName};

/// Runs of each subset: it fails only if all of them fail.
pub const TRIES: usize = 3;

/// At most this many runs in all.
pub const MAX_RUNS: usize = 480;

/// At most this long in all.
pub const MAX_TIME: Duration = Duration::from_secs(600);

/// A fault of the failing run, as a rule.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The sender's and the receiver's index.
    pub link: (usize, usize),
    /// The rule.
    pub rule: Rule,
}

/// What shrinking found.
#[derive(Debug)]
pub struct Shrunk {
    /// The faults of the original run, as rules.
    pub candidates: usize,
    /// The smallest failing set found.
    pub rules: Vec<Candidate>,
    /// Whether no single rule of it can be removed (false: a bound
    /// stopped the search first).
    pub minimal: bool,
    /// How many runs it took.
    pub runs: usize,
    /// The last failing run of the smallest set, and its verdict.
    pub run: (Record, Verdict),
}

/// The random drops and duplicates of `record`, as rules, in the order
/// the datagrams were sent.
pub fn candidates(record: &Record) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (i, d) in record.datagrams.iter().enumerate() {
        let make: fn(RuleMatch) -> Rule = match (d.rule, d.fate) {
            (None, Fate::Dropped) => Rule::Drop,
            (None, Fate::Duplicated) => Rule::Duplicate,
            _ => continue,
        };
        let kind = d.kind();
        // Rules count the datagrams of their type on their link, lost
        // ones included, from 1.
        let nth = 1 + record.datagrams[..i]
            .iter()
            .filter(|e| (e.from, e.to) == (d.from, d.to) && (kind.is_none() || e.kind() == kind))
            .count();
        out.push(Candidate {
            link: (d.from, d.to),
            rule: make(RuleMatch {
                from: record.nodes[d.from].name.clone(),
                to: record.nodes[d.to].name.clone(),
                kind: kind.map(TypeName),
                nth: Some(vec![nth]),
                ..RuleMatch::default()
            }),
        });
    }
    out
}

/// `test` without its random drops and duplicates, with `rules` added
/// after its own.
pub fn with_rules(test: &TestSpec, rules: &[Candidate]) -> TestSpec {
    let mut t = test.clone();
    let quiet = |s: &mut FaultSettings| {
        s.drop = None;
        s.duplicate = None;
    };
    quiet(&mut t.plan.faults.every);
    for (.., s) in &mut t.plan.faults.links {
        quiet(s);
    }
    for step in &mut t.plan.steps {
        if let Action::Faults { settings, .. } = step {
            quiet(settings);
        }
    }
    t.plan
        .rules
        .extend(rules.iter().map(|c| (c.link.0, c.link.1, c.rule.clone())));
    t
}

/// Shrinks the faults of `record`, a failing run of `test` with run seed
/// `seed`, running `jobs` runs at a time. `progress` is told each step,
/// for people.
///
/// # Errors
/// When a run cannot be set up (the grader's own trouble), or when the
/// failure does not come back with the faults as rules: then there is
/// nothing to shrink.
pub fn shrink(
    spec: &LabSpec,
    test: &TestSpec,
    programs: &Programs,
    seed: u64,
    jobs: usize,
    record: &Record,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Shrunk> {
    let all = candidates(record);
    let mut r = Runner {
        spec,
        test,
        programs,
        seed,
        jobs: jobs.max(1),
        started: Instant::now(),
        runs: 0,
        last: None,
    };
    progress(&format!(
        "shrink: {} random drops and duplicates, as rules; each set is run {TRIES} times",
        all.len()
    ));
    if r.first_failing(&[Vec::new()])? == Some(Some(0)) {
        progress("shrink: the test fails without any of them");
        return r.done(all.len(), Vec::new(), true);
    }
    if r.first_failing(std::slice::from_ref(&all))? != Some(Some(0)) {
        anyhow::bail!(
            "the failure does not come back with the run's {} drops and duplicates as rules: it needs the timing of that run, which rules do not replay",
            all.len()
        );
    }
    let (set, minimal) = ddmin(
        all.clone(),
        |sets| r.first_failing(sets),
        |n| progress(&format!("shrink: {n} rules still fail")),
    )?;
    if !minimal {
        progress(&format!(
            "shrink: stopped at its bound ({} runs, at most {MAX_RUNS}, or {} s): the set may shrink further",
            r.runs,
            MAX_TIME.as_secs()
        ));
    }
    r.done(all.len(), set, minimal)
}

/// Runs sets of rules, counting runs within the bounds.
struct Runner<'a> {
    spec: &'a LabSpec,
    test: &'a TestSpec,
    programs: &'a Programs,
    seed: u64,
    jobs: usize,
    started: Instant,
    runs: usize,
    /// The last failing run of the last set found failing.
    last: Option<(Record, Verdict)>,
}

impl Runner<'_> {
    /// The first of `sets`, in order, whose [`TRIES`] runs all fail;
    /// `None` once a bound is reached. Sets are tried a few at a time, all
    /// their runs at once (`jobs` in all): a test mostly waits.
    fn first_failing(&mut self, sets: &[Vec<Candidate>]) -> anyhow::Result<Option<Option<usize>>> {
        let window = (self.jobs / TRIES).max(1);
        for (w, group) in sets.chunks(window).enumerate() {
            if self.runs + group.len() * TRIES > MAX_RUNS || self.started.elapsed() > MAX_TIME {
                return Ok(None);
            }
            let tests: Vec<TestSpec> = group.iter().map(|s| with_rules(self.test, s)).collect();
            let items: Vec<usize> = (0..group.len()).flat_map(|i| [i; TRIES]).collect();
            let runs = in_parallel(
                &items,
                Jobs::fixed(self.jobs),
                |&i| run_one(self.spec, &tests[i], self.programs, self.seed),
                |_, _| {},
            );
            self.runs += items.len();
            let mut runs = runs.into_iter();
            for i in 0..group.len() {
                let mine: Vec<(Record, Verdict)> =
                    runs.by_ref().take(TRIES).collect::<anyhow::Result<_>>()?;
                if mine.iter().all(|(_, v)| v.status == Status::Failed) {
                    self.last = mine.into_iter().last();
                    return Ok(Some(Some(w * window + i)));
                }
            }
        }
        Ok(Some(None))
    }

    fn done(
        self,
        candidates: usize,
        rules: Vec<Candidate>,
        minimal: bool,
    ) -> anyhow::Result<Shrunk> {
        Ok(Shrunk {
            candidates,
            rules,
            minimal,
            runs: self.runs,
            run: self.last.context("a failing run was kept")?,
        })
    }
}

/// Delta debugging (*ddmin*) of `all`, a set that fails: the smallest
/// subset it finds that still fails, and whether no single element of it
/// can go. `first_failing` says which of some sets, in order, fails first
/// (`None` when a bound stopped it); `shrank` is told each smaller set's
/// size.
fn ddmin<T: Clone>(
    all: Vec<T>,
    mut first_failing: impl FnMut(&[Vec<T>]) -> anyhow::Result<Option<Option<usize>>>,
    mut shrank: impl FnMut(usize),
) -> anyhow::Result<(Vec<T>, bool)> {
    let mut set = all;
    let mut parts = 2;
    loop {
        if set.len() < 2 {
            return Ok((set, true));
        }
        let chunks = split(&set, parts);
        // A part that fails alone; then, with more than two parts, a
        // complement that fails.
        let mut tries: Vec<(Vec<T>, usize)> = chunks.iter().map(|c| (c.clone(), 2)).collect();
        if parts > 2 {
            tries.extend((0..chunks.len()).map(|i| {
                let rest = (chunks.iter().enumerate())
                    .filter(|&(j, _)| j != i)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                (rest, (parts - 1).max(2))
            }));
        }
        let sets: Vec<Vec<T>> = tries.iter().map(|(s, _)| s.clone()).collect();
        match first_failing(&sets)? {
            None => return Ok((set, false)),
            Some(Some(i)) => {
                (set, parts) = tries.swap_remove(i);
                shrank(set.len());
            }
            Some(None) if parts >= set.len() => return Ok((set, true)),
            Some(None) => parts = (parts * 2).min(set.len()),
        }
    }
}

/// `set` in `parts` parts of nearly equal size, in order.
fn split<T: Clone>(set: &[T], parts: usize) -> Vec<Vec<T>> {
    let (n, parts) = (set.len(), parts.min(set.len()).max(1));
    (0..parts)
        .map(|i| set[i * n / parts..(i + 1) * n / parts].to_vec())
        .collect()
}

/// The rules as lines of a spec's `network.rules`:
/// `- drop: { from: client, to: primary, type: WRITE_REQ, nth: [2] }`.
pub fn yaml(rules: &[Candidate]) -> Vec<String> {
    rules
        .iter()
        .map(|c| format!("- {}", c.rule.to_string().replacen(" {", ": {", 1)))
        .collect()
}

/// Writes a file of extra tests with the test `name` of `spec_path`
/// shrunk: called `NAME-shrunk`, without random drops and duplicates
/// (in `network` and in `faults` steps), with `rules` after its own.
/// Returns the new test's name.
///
/// # Errors
/// When the spec cannot be read, holds no such test, or the file cannot
/// be written.
pub fn write_extra(
    spec_path: &Path,
    lab: &str,
    name: &str,
    rules: &[Candidate],
    out: &Path,
) -> anyhow::Result<String> {
    use serde_yaml::{Mapping, Value};
    let text = std::fs::read_to_string(spec_path)
        .with_context(|| format!("reading {}", spec_path.display()))?;
    let doc: Value = serde_yaml::from_str(&text)?;
    let mut test = doc
        .get("tests")
        .and_then(Value::as_sequence)
        .and_then(|tests| {
            tests
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
        })
        .cloned()
        .with_context(|| format!("{} has no test {name}", spec_path.display()))?;
    let shrunk = format!("{name}-shrunk");
    let quiet = |v: &mut Value| {
        if let Some(m) = v.as_mapping_mut() {
            m.remove("drop");
            m.remove("duplicate");
        }
    };
    let t = test.as_mapping_mut().context("a test is a mapping")?;
    t.insert("name".into(), shrunk.clone().into());
    let network = t
        .entry("network".into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    let network = network.as_mapping_mut().context("`network` is a mapping")?;
    if let Some(f) = network.get_mut("faults") {
        quiet(f);
    }
    if let Some(Value::Sequence(links)) = network.get_mut("links") {
        links.iter_mut().for_each(quiet);
    }
    let added: Vec<Value> = yaml(rules)
        .iter()
        .map(|line| serde_yaml::from_str::<Vec<Value>>(line).map(|mut v| v.remove(0)))
        .collect::<Result<_, _>>()?;
    match network.get_mut("rules") {
        Some(Value::Sequence(own)) => own.extend(added),
        _ => {
            network.insert("rules".into(), Value::Sequence(added));
        }
    }
    if let Some(Value::Sequence(steps)) = t.get_mut("steps") {
        for s in steps {
            if let Some(f) = s.get_mut("faults") {
                quiet(f);
            }
        }
    }
    let mut file = Mapping::new();
    file.insert("lab".into(), lab.into());
    file.insert("tests".into(), Value::Sequence(vec![test]));
    let body = serde_yaml::to_string(&Value::Mapping(file))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    }
    std::fs::write(
        out,
        format!(
            "# {shrunk}: test {name} of {}, shrunk by `grader {lab} -t {name} --shrink`:\n# no random drops or duplicates, and the rules that still make it fail.\n{body}",
            spec_path.display()
        ),
    )
    .with_context(|| format!("writing {}", out.display()))?;
    Ok(shrunk)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use handout::{Message, MsgType};

    use super::*;
    use crate::run::record::{Datagram, NodeRecord};

    fn datagram(
        from: usize,
        to: usize,
        kind: MsgType,
        fate: Fate,
        rule: Option<usize>,
    ) -> Datagram {
        let bytes = Message::new(kind, "AAAAAAAAAAkey01", "AAAABBBBCCCCDDD")
            .unwrap()
            .encode_full()
            .to_vec();
        Datagram {
            sent: Duration::ZERO,
            from,
            to,
            bytes,
            fate,
            delays: Vec::new(),
            delivered: Vec::new(),
            rule,
        }
    }

    fn record(datagrams: Vec<Datagram>) -> Record {
        Record::of(
            vec![NodeRecord::new("client"), NodeRecord::new("server")],
            datagrams,
        )
    }

    #[test]
    fn random_drops_and_duplicates_become_rules_counted_as_rules_count() {
        use Fate::*;
        use MsgType::*;
        let r = record(vec![
            datagram(0, 1, ReadReq, Dropped, None),
            datagram(0, 1, ReadReq, Delivered, None),
            datagram(1, 0, ReadRep, Delivered, None),
            // A rule's own decision is not the random faults'.
            datagram(0, 1, ReadReq, Dropped, Some(0)),
            datagram(0, 1, WriteReq, Duplicated, None),
            datagram(0, 1, ReadReq, Dropped, None),
            datagram(1, 0, ReadRep, Partitioned, None),
        ]);
        assert_eq!(
            yaml(&candidates(&r)),
            [
                "- drop: { from: client, to: server, type: READ_REQ, nth: [1] }",
                "- duplicate: { from: client, to: server, type: WRITE_REQ, nth: [1] }",
                "- drop: { from: client, to: server, type: READ_REQ, nth: [4] }",
            ]
        );
    }

    #[test]
    fn ddmin_finds_the_two_that_matter_among_many() {
        // Fails when both 3 and 11 are in the set; the oracle answers as
        // the runs would, and counts how many sets it was asked about.
        let mut asked = 0;
        let (set, minimal) = ddmin(
            (0..20).collect::<Vec<u32>>(),
            |sets| {
                asked += sets.len();
                Ok(Some(
                    sets.iter().position(|s| s.contains(&3) && s.contains(&11)),
                ))
            },
            |_| {},
        )
        .unwrap();
        assert_eq!((set, minimal), (vec![3, 11], true));
        assert!(asked < 100, "{asked} sets tried");
        // One that matters is found alone; a bound stops the search with
        // what it has.
        let (set, _) = ddmin(
            (0..9).collect::<Vec<u32>>(),
            |sets| Ok(Some(sets.iter().position(|s| s.contains(&7)))),
            |_| {},
        )
        .unwrap();
        assert_eq!(set, [7]);
        let (set, minimal) = ddmin((0..9).collect::<Vec<u32>>(), |_| Ok(None), |_| {}).unwrap();
        assert_eq!((set.len(), minimal), (9, false));
    }

    #[test]
    fn parts_cover_the_set_in_order() {
        let r = record(
            (0..7)
                .map(|_| datagram(0, 1, MsgType::ReadReq, Fate::Dropped, None))
                .collect(),
        );
        let all = candidates(&r);
        for parts in 1..=9 {
            let chunks = split(&all, parts);
            assert_eq!(chunks.len(), parts.min(7));
            assert!(chunks.iter().all(|c| !c.is_empty()));
            let joined: Vec<String> = chunks.iter().flat_map(|c| yaml(c)).collect();
            assert_eq!(joined, yaml(&all));
        }
    }
}
