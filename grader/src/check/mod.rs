//! `grader check`: the instructor's proof that the kit is sound.
//!
//! For every lab: the spec is valid; the committed skeleton is exactly what
//! generation from the solution produces; the solution passes its own unit
//! tests and every spec test; the skeleton builds, and fails every test by
//! stopping at a hole — never with a confusing transcript diff, and never
//! passing a test it should not; and every broken program of the
//! solution's [`mutants`] file is caught by the test meant for it, with a
//! failure that names its cause; the lab's [`requirements`] trace the page
//! to those tests and mutants; and the course's own programs pass the
//! classic tests (see [`course`]).
//!
//! # Layout
//! - this file: the checks, one printed line each;
//! - [`mutants`]: broken programs as small edits of the solution;
//! - [`requirements`]: each sentence of a lab's page that binds a program,
//!   traced to the tests that fail without it and the mutants that prove it;
//! - [`course`]: the course's own programs, imitated, against the classic
//!   tests (they pass, but for the course's documented bugs) and the robust
//!   ones (they fail, for their real causes).

use colored::Colorize;

use crate::grade::{Built, load_spec, prepare, run_all, run_one};
use crate::judge::{Status, Verdict};
use crate::kit::{self, Kit, Lab, Source};
use crate::pool::{Jobs, in_parallel};
use crate::report::text;
use crate::run::record::Record;
use crate::skeleton;
use crate::spec::{LabSpec, Part, SkeletonExpect, TestSpec};

pub mod course;
pub mod mutants;
pub mod requirements;

/// Reads one of the instructor's YAML files (`mutants.yaml`,
/// `requirements.yaml`, `expected.yaml`), if it exists.
///
/// # Errors
/// A file that cannot be read or parsed (with its line and column).
pub(crate) fn load_yaml<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> anyhow::Result<Option<T>> {
    use anyhow::Context;
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_yaml::from_str(&text).map(Some).map_err(|e| {
        let at = e
            .location()
            .map_or(String::new(), |l| format!(":{}:{}", l.line(), l.column()));
        anyhow::anyhow!("{}{at}: {e}", path.display())
    })
}

/// The outcome of `grader check`.
#[derive(Debug, Default, Clone)]
pub struct Checked {
    /// Checks that held.
    pub passed: usize,
    /// Checks that did not.
    pub failed: usize,
    /// The checks that did not hold, `lab: what`, in the order made: the
    /// closing summary repeats them, so that the end of a long output
    /// says what failed.
    pub failures: Vec<String>,
}

impl Checked {
    fn record(&mut self, lab: &str, ok: bool, what: &str, details: &[String]) {
        let tag = if ok {
            "ok  ".green().bold()
        } else {
            "FAIL".red().bold()
        };
        crate::out!("  {tag}  {lab}: {what}");
        for d in details {
            crate::out!("          {d}");
        }
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failures.push(format!("{lab}: {what}"));
        }
    }

    /// The closing lines: the failed checks again (their details are
    /// above, under each), then the counts.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.failures.is_empty() {
            lines.push("failed checks (details above, under each):".to_string());
            lines.extend(self.failures.iter().map(|f| format!("  {f}")));
        }
        lines.push(format!("{} passed, {} failed", self.passed, self.failed));
        lines
    }
}

/// How much `grader check` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every check.
    Everything,
    /// The spec and the requirements it traces: nothing is built or run.
    Requirements,
}

/// Runs every check (or those of `scope`) on every lab (or one), printing
/// a line per check.
///
/// # Errors
/// When the kit cannot be read or a test cannot be set up.
pub fn kit(
    kit: &Kit,
    only: Option<&str>,
    seed: u64,
    jobs: Jobs,
    scope: Scope,
) -> anyhow::Result<Checked> {
    let mut c = Checked::default();
    let labs = match only {
        Some(id) => vec![kit.lab(id)?],
        None => kit.labs()?,
    };
    crate::out!("checking the kit at {} (seed {seed})", kit.root.display());
    for lab in labs {
        if scope == Scope::Requirements {
            if let Some(spec) = valid_spec(&lab, &mut c) {
                traced(kit, &lab, &spec, &mut c)?;
            }
            continue;
        }
        check_lab(kit, &lab, seed, jobs, &mut c)?;
    }
    Ok(c)
}

/// The lab's spec, if it is valid: a check either way.
fn valid_spec(lab: &Lab, c: &mut Checked) -> Option<LabSpec> {
    let id = lab.id.as_str();
    match load_spec(lab) {
        Ok(s) => {
            c.record(
                id,
                true,
                &format!("spec is valid ({} tests)", s.tests.len()),
                &[],
            );
            Some(s)
        }
        Err(e) => {
            c.record(id, false, "spec is valid", &[e.to_string()]);
            None
        }
    }
}

/// Every check of one lab.
fn check_lab(kit: &Kit, lab: &Lab, seed: u64, jobs: Jobs, c: &mut Checked) -> anyhow::Result<()> {
    let Some(spec) = valid_spec(lab, c) else {
        return Ok(());
    };
    let id = lab.id.as_str();
    traced(kit, lab, &spec, c)?;
    let holes = skeleton_in_sync(kit, lab, c)?;
    match kit::unit_tests(
        &lab.solution_dir,
        &kit.own_target(&lab.solution_dir),
        &kit.labs_build_dir(),
    ) {
        Ok(()) => c.record(id, true, "solution passes its unit tests", &[]),
        Err(out) => c.record(id, false, "solution passes its unit tests", &tail(&out)),
    }
    for source in [Source::Solution, Source::Skeleton] {
        let (_, programs) = prepare(kit, lab, &source)?;
        let programs = match programs {
            Built::Programs(p) => {
                if source == Source::Skeleton {
                    c.record(id, true, "skeleton builds as handed out", &[]);
                }
                p
            }
            Built::CompileError(out) => {
                let label = source.name();
                c.record(id, false, &format!("{label} builds"), &tail(&out));
                continue;
            }
        };
        let tests = spec.select(None);
        let runs = run_all(&spec, &tests, &programs, seed, jobs, |_, _, _| {})?;
        for ((record, verdict), t) in runs.iter().zip(&spec.tests) {
            let run = Judged {
                id,
                source: &source,
                test: t,
                record,
                verdict,
                seed,
            };
            run.check(&holes, c);
        }
    }
    mutants(kit, lab, &spec, seed, jobs, c)?;
    course_programs(kit, lab, &spec, seed, jobs, c)
}

/// The lab's requirements trace to tests and mutants (see [`requirements`]).
fn traced(kit: &Kit, lab: &Lab, spec: &LabSpec, c: &mut Checked) -> anyhow::Result<()> {
    let id = lab.id.as_str();
    let file = format!("{}/{}", kit.show(&lab.lab_dir), requirements::FILE);
    let what = format!("{file} traces every requirement to a test and a mutant");
    let reqs = match requirements::Requirements::load(&lab.lab_dir) {
        Ok(Some(r)) => r,
        Ok(None) => {
            c.record(id, false, &what, &[format!("{file} is missing")]);
            return Ok(());
        }
        Err(e) => {
            c.record(id, false, &what, &[e.to_string()]);
            return Ok(());
        }
    };
    let list = match mutants::Mutants::load(&lab.solution_dir) {
        Ok(m) => m.map(|m| m.mutants).unwrap_or_default(),
        // `mutants` reports the broken file.
        Err(_) => return Ok(()),
    };
    let pages = requirements::Pages {
        dir: kit.root.join("specs"),
        own: format!("{id}.md"),
    };
    let mut problems = requirements::problems(&reqs, spec, &list, &pages)?;
    if !problems.is_empty() {
        problems.push(format!(
            "(`grader check {id} --requirements` checks this alone, in a second)"
        ));
    }
    let what = format!(
        "{file} traces {} requirements to tests and mutants",
        reqs.requirements.len()
    );
    c.record(id, problems.is_empty(), &what, &problems);
    Ok(())
}

/// The course's programs, imitated in `solutions/hwN-course/`, pass every
/// classic test but those their `expected.yaml` lists, and fail the listed
/// ones for the cause it names (see [`course`]).
fn course_programs(
    kit: &Kit,
    lab: &Lab,
    spec: &LabSpec,
    seed: u64,
    jobs: Jobs,
    c: &mut Checked,
) -> anyhow::Result<()> {
    let id = lab.id.as_str();
    let dir = course::dir(&kit.root, id);
    let expected = match course::Expected::load(&dir) {
        Ok(Some(e)) => e,
        Ok(None) => return Ok(()),
        Err(e) => {
            let what = format!("{} is valid", course::FILE);
            c.record(id, false, &what, &[e.to_string()]);
            return Ok(());
        }
    };
    for f in expected
        .fails
        .iter()
        .filter(|f| !spec.tests.iter().any(|t| t.name == f.test))
    {
        let what = format!("the course's programs fail `{}`", f.test);
        c.record(
            id,
            false,
            &what,
            &[format!("the spec has no test `{}`", f.test)],
        );
    }
    let tests: Vec<&TestSpec> = spec
        .tests
        .iter()
        .filter(|t| t.part == Part::Classic || expected.of(&t.name).is_some())
        .collect();
    let how = kit::BuildOptions {
        color: false,
        limit: spec.limits.build.0,
    };
    let programs = kit::programs(kit, lab, &spec.binaries, &Source::BinDir(dir.clone()), how)
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", kit.show(&dir)))?;
    let runs = run_all(spec, &tests, &programs, seed, jobs, |_, _, _| {})?;
    for ((record, verdict), t) in runs.iter().zip(&tests) {
        let replay = format!(
            "replay: grader {id} --bin-dir {} -t {} --seed {seed}",
            kit.show(&dir),
            t.name
        );
        match expected.of(&t.name) {
            None => {
                let passed = verdict.status == Status::Passed;
                let mut details = Vec::new();
                if !passed {
                    details = summaries(record, verdict);
                    details.push(replay);
                }
                let what = format!("the course's programs pass `{}`", t.name);
                c.record(id, passed, &what, &details);
            }
            Some(f) => {
                let mut caught = Caught::default();
                caught.judge(seed, record, verdict, &f.message, &f.because);
                let what = format!("the course's programs fail `{}`", t.name);
                let (what, mut problems) = caught.line(what);
                if !problems.is_empty() {
                    problems.push(replay);
                }
                c.record(id, problems.is_empty(), &what, &problems);
            }
        }
    }
    Ok(())
}

/// One run of a test of the solution or the skeleton, judged.
struct Judged<'a> {
    id: &'a str,
    source: &'a Source,
    test: &'a crate::spec::TestSpec,
    record: &'a crate::run::record::Record,
    verdict: &'a Verdict,
    seed: u64,
}

impl Judged<'_> {
    /// The solution must pass; the skeleton must pass what the handout
    /// gives and fail the rest at a hole the solution marks.
    fn check(&self, holes: &[String], c: &mut Checked) {
        let Judged {
            id,
            source,
            test: t,
            record,
            verdict,
            seed,
        } = *self;
        let replay = format!("grader {id}{} -t {} --seed {seed}", source.flag(), t.name);
        let passed = verdict.status == Status::Passed;
        let details = || {
            let mut d = summaries(record, verdict);
            d.push(format!("replay: {replay}"));
            d
        };
        if *source == Source::Solution {
            c.record(
                id,
                passed,
                &format!("solution passes `{}`", t.name),
                &if passed { vec![] } else { details() },
            );
        } else if t.skeleton == SkeletonExpect::Pass {
            c.record(
                id,
                passed,
                &format!("skeleton passes `{}` (the handout gives it)", t.name),
                &if passed { vec![] } else { details() },
            );
        } else {
            let unknown: Vec<&String> = verdict
                .holes
                .iter()
                .filter(|h| !holes.contains(h))
                .collect();
            let ok = !passed && !verdict.holes.is_empty() && unknown.is_empty();
            let why: Vec<String> = if passed {
                vec![
                    "the skeleton already passes it: the test checks nothing a hole provides"
                        .into(),
                ]
            } else if verdict.holes.is_empty() {
                let mut d = vec!["it fails without reaching a hole:".to_string()];
                d.extend(details().into_iter().map(|l| format!("  {l}")));
                d
            } else if !unknown.is_empty() {
                vec![format!(
                    "it names holes the solution does not mark: {unknown:?}"
                )]
            } else {
                Vec::new()
            };
            let named = verdict
                .holes
                .first()
                .map(|h| format!(" at `{h}`"))
                .unwrap_or_default();
            c.record(id, ok, &format!("skeleton fails `{}`{named}", t.name), &why);
        }
    }
}

/// The skeleton matches generation; returns the holes the solution marks.
fn skeleton_in_sync(kit: &Kit, lab: &Lab, c: &mut Checked) -> anyhow::Result<Vec<String>> {
    let id = lab.id.as_str();
    match skeleton::generate(&lab.solution_dir) {
        Ok(sk) => {
            let drift = skeleton::drift(&sk, &lab.lab_dir)?;
            let details: Vec<String> = drift
                .iter()
                .take(10)
                .map(|d| format!("{}: {d}", kit.show(&lab.lab_dir)))
                .collect();
            let mut what = format!(
                "skeleton is generated from the solution ({} holes)",
                sk.holes.len()
            );
            if !drift.is_empty() {
                what.push_str(&format!("; regenerate it with `grader generate {id}`"));
            }
            c.record(id, drift.is_empty(), &what, &details);
            Ok(sk.holes.into_iter().map(|h| h.name).collect())
        }
        Err(e) => {
            c.record(
                id,
                false,
                "skeleton is generated from the solution",
                &[e.to_string()],
            );
            Ok(Vec::new())
        }
    }
}

/// Every mutant of the solution is caught by each test meant for it, on
/// every seed asked for, with a failure that says what its `message` says.
fn mutants(
    kit: &Kit,
    lab: &Lab,
    spec: &LabSpec,
    seed: u64,
    jobs: Jobs,
    c: &mut Checked,
) -> anyhow::Result<()> {
    let id = lab.id.as_str();
    let list = match mutants::Mutants::load(&lab.solution_dir) {
        Ok(Some(m)) => m.mutants,
        Ok(None) => return Ok(()),
        Err(e) => {
            c.record(
                id,
                false,
                &format!("{} is valid", mutants::FILE),
                &[e.to_string()],
            );
            return Ok(());
        }
    };
    // Build every mutant first (cargo builds one at a time in the shared
    // target), then run every test on every seed of every mutant at once,
    // `jobs` at a time: a test that waits for a time limit overlaps others.
    // Mutants build in a build directory of their own, shared by the labs'
    // mutants: a mutant is its solution under the same name, and in the
    // labs' build directory cargo would take one for the other.
    let shop = mutants::Workshop::new(&lab.solution_dir, Some(&kit.mutants_build_dir()))?;
    let how = kit::BuildOptions {
        color: false,
        limit: spec.limits.build.0,
    };
    let mut built = Vec::new();
    for m in &list {
        let dir = match shop.build(m, &spec.binaries) {
            Ok(d) => d,
            Err(e) => {
                let what = format!("mutant `{}` applies to the solution", m.name);
                c.record(id, false, &what, &tail(&format!("{e:#}")));
                continue;
            }
        };
        let programs = kit::programs(kit, lab, &spec.binaries, &Source::BinDir(dir), how)
            .map_err(|e| anyhow::anyhow!("mutant `{}`: {e:?}", m.name))?;
        built.push((m, programs));
    }
    // (mutant, its catch, the test, a seed), in the order the lines print.
    let mut runs = Vec::new();
    for (k, (m, _)) in built.iter().enumerate() {
        for catch in &m.caught_by {
            let test = spec.tests.iter().find(|t| t.name == catch.test);
            for s in (0..m.seeds).map(|j| seed.wrapping_add(j)) {
                runs.push((k, catch, test, s));
            }
        }
    }
    let results = in_parallel(
        &runs,
        jobs,
        |&(k, _, test, s)| test.map(|t| run_one(spec, t, &built[k].1, s)),
        |_, _| {},
    );
    let mut results = runs.iter().zip(results).peekable();
    while let Some(&(&(k, catch, test, _), _)) = results.peek() {
        let m = built[k].0;
        let mut caught = Caught::default();
        while let Some(((_, _, _, s), r)) =
            results.next_if(|((k2, c2, ..), _)| *k2 == k && std::ptr::eq(*c2, catch))
        {
            if let Some(r) = r {
                let (record, verdict) = r?;
                if caught.problems.len() <= 12 {
                    caught.judge(*s, &record, &verdict, &catch.message, &m.description);
                }
            }
        }
        if test.is_none() {
            c.record(
                id,
                false,
                &format!("mutant `{}` is caught by `{}`", m.name, catch.test),
                &[format!("the spec has no test `{}`", catch.test)],
            );
            continue;
        }
        let on = if m.seeds > 1 {
            format!(" on {} seeds", m.seeds)
        } else {
            String::new()
        };
        let what = format!("mutant `{}` is caught by `{}`{on}", m.name, catch.test);
        let (what, problems) = caught.line(what);
        c.record(id, problems.is_empty(), &what, &problems);
    }
    Ok(())
}

/// Whether runs of a test failed with a message, seed after seed.
#[derive(Default)]
struct Caught {
    /// Why a run does not count as caught, a line each.
    problems: Vec<String>,
    /// The summary of the first failure that said the message.
    said: Option<String>,
}

impl Caught {
    /// One run: it must fail, and some failure must say `message`; `bug`
    /// names what it should have caught.
    fn judge(&mut self, seed: u64, record: &Record, verdict: &Verdict, message: &str, bug: &str) {
        let all = all_text(verdict);
        if verdict.status != Status::Failed {
            self.problems.push(format!(
                "with seed {seed} the test's status is {}: it does not catch the bug ({bug})",
                verdict.status.name(),
            ));
        } else if !all.contains(message) {
            self.problems.push(format!(
                "with seed {seed} it fails, but no failure says `{message}`:"
            ));
            let texts = summaries(record, verdict).join("\n");
            self.problems
                .extend(texts.lines().map(|l| format!("  {l}")));
        } else if self.said.is_none() {
            self.said = verdict
                .failures()
                .filter_map(|c| c.failure.as_ref())
                .find(|f| failure_text(f).contains(message))
                .map(|f| f.summary.clone());
        }
    }

    /// The check's line (with the failure that said the message, when
    /// caught) and its details.
    fn line(self, what: String) -> (String, Vec<String>) {
        match (self.said, self.problems.is_empty()) {
            (Some(s), true) => (format!("{what}: {s}"), self.problems),
            _ => (what, self.problems),
        }
    }
}

/// Everything a failure says, to look for a mutant's message in.
fn failure_text(f: &crate::judge::Failure) -> String {
    let mut s = f.summary.clone();
    for part in [&f.expected, &f.actual].into_iter().flatten() {
        s.push('\n');
        s.push_str(part);
    }
    for n in &f.notes {
        s.push('\n');
        s.push_str(n);
    }
    s
}

fn all_text(v: &Verdict) -> String {
    v.failures()
        .filter_map(|c| c.failure.as_ref())
        .map(failure_text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The failures of a run, one or a few lines each.
fn summaries(record: &Record, verdict: &Verdict) -> Vec<String> {
    text::failures(record, &verdict.checks)
        .iter()
        .filter(|l| l.indent <= 10)
        .map(|l| l.plain().trim_start().to_string())
        .collect()
}

fn tail(out: &str) -> Vec<String> {
    let lines: Vec<String> = out.lines().map(|l| format!("| {l}")).collect();
    lines[lines.len().saturating_sub(30)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a long `grader check` says which checks failed.
    #[test]
    fn the_summary_repeats_the_failed_checks() {
        let mut c = Checked::default();
        c.record("hw1", true, "spec is valid (3 tests)", &[]);
        c.record("hw1", false, "mutant `m` is caught by `t` on 5 seeds", &[]);
        c.record("hw2", false, "solution passes `kv`", &["why".into()]);
        assert_eq!(
            c.summary(),
            [
                "failed checks (details above, under each):",
                "  hw1: mutant `m` is caught by `t` on 5 seeds",
                "  hw2: solution passes `kv`",
                "1 passed, 2 failed",
            ]
        );
        assert_eq!(Checked::default().summary(), ["0 passed, 0 failed"]);
    }
}
