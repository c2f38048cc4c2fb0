//! `grader check`: the instructor's proof that the kit is sound.
//!
//! For every lab: the spec is valid; the committed skeleton is exactly what
//! generation from the solution produces; the solution passes its own unit
//! tests and every spec test; the skeleton builds, and fails every test by
//! stopping at a hole — never with a confusing transcript diff, and never
//! passing a test it should not.

use colored::Colorize;

use crate::grade::{prepare, run_all};
use crate::kit::{self, Kit, Source};
use crate::skeleton;
use crate::spec::{LabSpec, SkeletonExpect};

/// The outcome of `grader check`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    /// Checks that held.
    pub passed: usize,
    /// Checks that did not.
    pub failed: usize,
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
        }
    }
}

/// Runs every check on every lab (or one), printing a line per check.
///
/// # Errors
/// When the kit cannot be read or a test cannot be set up.
pub fn check(kit: &Kit, only: Option<&str>, seed: u64, jobs: usize) -> anyhow::Result<Checked> {
    let mut c = Checked::default();
    let labs = match only {
        Some(id) => vec![kit.lab(id)?],
        None => kit.labs()?,
    };
    crate::out!("checking the kit at {} (seed {seed})", kit.root.display());
    for lab in labs {
        let id = lab.id.as_str();
        let spec = match LabSpec::load(&lab.spec_path) {
            Ok(s) => {
                c.record(
                    id,
                    true,
                    &format!("spec is valid ({} tests)", s.tests.len()),
                    &[],
                );
                s
            }
            Err(e) => {
                c.record(id, false, "spec is valid", &[e.to_string()]);
                continue;
            }
        };
        let holes = match skeleton::generate(&lab.solution_dir) {
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
                sk.holes.into_iter().map(|h| h.name).collect::<Vec<_>>()
            }
            Err(e) => {
                c.record(
                    id,
                    false,
                    "skeleton is generated from the solution",
                    &[e.to_string()],
                );
                Vec::new()
            }
        };
        match kit::unit_tests(&lab.solution_dir) {
            Ok(()) => c.record(id, true, "solution passes its unit tests", &[]),
            Err(out) => c.record(id, false, "solution passes its unit tests", &tail(&out)),
        }
        for (source, label) in [
            (Source::Solution, "solution"),
            (Source::Skeleton, "skeleton"),
        ] {
            let (_, programs) = prepare(kit, &lab, &source)?;
            let programs = match programs {
                Ok(p) => {
                    if source == Source::Skeleton {
                        c.record(id, true, "skeleton builds as handed out", &[]);
                    }
                    p
                }
                Err(out) => {
                    c.record(id, false, &format!("{label} builds"), &tail(&out));
                    continue;
                }
            };
            let outcomes = run_all(&spec, &programs, None, seed, jobs, |_, _| {})?;
            for (o, t) in outcomes.iter().zip(&spec.tests) {
                let replay = format!(
                    "grader {id}{} -t {} --seed {seed}",
                    if source == Source::Solution {
                        " --solutions"
                    } else {
                        ""
                    },
                    o.name
                );
                if source == Source::Solution {
                    let details: Vec<String> = o
                        .failures
                        .iter()
                        .map(|f| f.headline.clone())
                        .chain([format!("replay: {replay}")])
                        .collect();
                    c.record(
                        id,
                        o.passed(),
                        &format!("solution passes `{}`", o.name),
                        if o.passed() { &[] } else { &details },
                    );
                } else if t.skeleton == SkeletonExpect::Pass {
                    let details: Vec<String> = o
                        .failures
                        .iter()
                        .map(|f| f.headline.clone())
                        .chain([format!("replay: {replay}")])
                        .collect();
                    c.record(
                        id,
                        o.passed(),
                        &format!("skeleton passes `{}` (the handout gives it)", o.name),
                        if o.passed() { &[] } else { &details },
                    );
                } else {
                    let unknown: Vec<&String> =
                        o.holes.iter().filter(|h| !holes.contains(h)).collect();
                    let ok = !o.passed() && !o.holes.is_empty() && unknown.is_empty();
                    let details: Vec<String> = if o.passed() {
                        vec![format!(
                            "the skeleton already passes it: the test checks nothing a hole provides"
                        )]
                    } else if o.holes.is_empty() {
                        let mut d = vec!["it fails without reaching a hole:".to_string()];
                        d.extend(o.failures.iter().map(|f| format!("  {}", f.headline)));
                        d.push(format!("replay: {replay}"));
                        d
                    } else if !unknown.is_empty() {
                        vec![format!(
                            "it names holes the solution does not mark: {unknown:?}"
                        )]
                    } else {
                        Vec::new()
                    };
                    let named = o
                        .holes
                        .first()
                        .map(|h| format!(" at `{h}`"))
                        .unwrap_or_default();
                    c.record(
                        id,
                        ok,
                        &format!("skeleton fails `{}`{named}", o.name),
                        &details,
                    );
                }
            }
        }
    }
    Ok(c)
}

fn tail(out: &str) -> Vec<String> {
    let lines: Vec<String> = out.lines().map(|l| format!("| {l}")).collect();
    lines[lines.len().saturating_sub(30)..].to_vec()
}
