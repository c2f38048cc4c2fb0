//! Grading a lab: choose the tests, run them in parallel, print in order.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc;

use anyhow::Context;
use colored::Colorize;

use crate::kit::{self, BuildError, Kit, Lab, Source};
use crate::report;
use crate::run::{self as runner, Outcome, Programs};
use crate::spec::LabSpec;

/// What to grade and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which programs.
    pub source: Source,
    /// Only this test.
    pub test: Option<String>,
    /// The seed of the first run.
    pub seed: u64,
    /// How many runs (seeds `seed`, `seed + 1`, ...).
    pub repeat: u64,
    /// Tests run at once.
    pub jobs: usize,
    /// Print every datagram of a failing test.
    pub verbose: bool,
}

/// Counts of one grading.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Tests passed (over all runs).
    pub passed: usize,
    /// Tests failed.
    pub failed: usize,
}

/// The seed of one test in a run: the run's seed mixed with the test's
/// name, so `-t NAME --seed S` replays exactly what the full run did.
pub fn test_seed(run_seed: u64, name: &str) -> u64 {
    runner::derive_seed(run_seed, name)
}

/// Loads a lab's spec and gets its programs.
///
/// # Errors
/// A bad spec or an unavailable program (grader error); a compile error is
/// returned inside `Ok(Err(..))` because it is the graded crate's fault.
pub fn prepare(
    kit: &Kit,
    lab: &Lab,
    source: &Source,
) -> anyhow::Result<(LabSpec, Result<Programs, String>)> {
    let spec = LabSpec::load(&lab.spec_path)?;
    match kit::programs(kit, lab, &spec, source) {
        Ok(p) => Ok((spec, Ok(p))),
        Err(BuildError::Compile(out)) => Ok((spec, Err(out))),
        Err(BuildError::Other(e)) => Err(e),
    }
}

/// Runs the selected tests of one lab with one seed; outcomes in spec order.
///
/// # Errors
/// When a test cannot be set up (no free port, no socket).
pub fn run_all(
    spec: &LabSpec,
    programs: &Programs,
    test: Option<&str>,
    seed: u64,
    jobs: usize,
    mut each: impl FnMut(usize, &Outcome),
) -> anyhow::Result<Vec<Outcome>> {
    let tests = spec.select(test);
    let next = Mutex::new(0usize);
    let (tx, rx) = mpsc::channel();
    let mut done: Vec<Option<Outcome>> = vec![None; tests.len()];
    let mut printed = 0;
    let mut error = None;
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(tests.len().max(1)) {
            let (tx, next, tests) = (tx.clone(), &next, &tests);
            s.spawn(move || {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(t) = tests.get(i) else { break };
                    let r = runner::run_test(spec, t, programs, test_seed(seed, &t.name));
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            match r {
                Ok(o) => done[i] = Some(o),
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
            while let Some(Some(o)) = done.get(printed) {
                each(printed, o);
                printed += 1;
            }
        }
    });
    if let Some(e) = error {
        return Err(e.context("setting up a test"));
    }
    Ok(done.into_iter().flatten().collect())
}

/// The command that replays one test.
fn replay(lab: &str, source: &Source, test: &str, seed: u64) -> String {
    let from = match source {
        Source::Skeleton => String::new(),
        Source::Solution => " --solutions".into(),
        Source::BinDir(d) => format!(" --bin-dir {}", d.display()),
    };
    format!("grader {lab}{from} -t {test} --seed {seed}")
}

/// Grades one lab and prints the report (without the closing line).
///
/// # Errors
/// Grader errors: bad spec, missing program, unknown test.
pub fn grade(kit: &Kit, lab: &Lab, opts: &Options) -> anyhow::Result<Tally> {
    let (spec, programs) = prepare(kit, lab, &opts.source)?;
    if let Some(t) = &opts.test
        && spec.select(Some(t)).is_empty()
    {
        let names: Vec<&str> = spec.tests.iter().map(|t| t.name.as_str()).collect();
        anyhow::bail!(
            "lab {} has no test `{t}` (its tests: {})",
            lab.id,
            names.join(", ")
        );
    }
    let what = match &opts.source {
        Source::Skeleton => kit.show(&lab.lab_dir),
        Source::Solution => format!("{} (reference solution)", kit.show(&lab.solution_dir)),
        Source::BinDir(d) => format!("executables in {}", d.display()),
    };
    let mut tally = Tally::default();
    let programs = match programs {
        Ok(p) => p,
        Err(compiler) => {
            crate::out!(
                "{} {} — {}: {}",
                lab.id.bold(),
                spec.title,
                what,
                "does not build".red().bold()
            );
            for l in compiler.lines() {
                crate::out!("  {l}");
            }
            let n = spec.select(opts.test.as_deref()).len() * opts.repeat as usize;
            crate::out!(
                "  every test fails until it builds: fix the first error above, then run the grader again"
            );
            tally.failed += n;
            return Ok(tally);
        }
    };
    for r in 0..opts.repeat {
        let seed = opts.seed.wrapping_add(r);
        let run = if opts.repeat > 1 {
            format!(", run {} of {}", r + 1, opts.repeat)
        } else {
            String::new()
        };
        crate::out!(
            "{} {} — {}, seed {seed}{run}",
            lab.id.bold(),
            spec.title,
            what
        );
        let tests = spec.select(opts.test.as_deref());
        run_all(
            &spec,
            &programs,
            opts.test.as_deref(),
            seed,
            opts.jobs,
            |i, o| {
                let t = tests[i];
                report::outcome(
                    o,
                    t,
                    &replay(&lab.id, &opts.source, &t.name, seed),
                    opts.verbose,
                );
                if o.passed() {
                    tally.passed += 1;
                } else {
                    tally.failed += 1;
                }
            },
        )?;
    }
    Ok(tally)
}

/// Grades every lab; a lab without a solution is skipped when grading solutions.
///
/// # Errors
/// As [`grade`].
pub fn grade_all(kit: &Kit, opts: &Options) -> anyhow::Result<Tally> {
    let mut total = Tally::default();
    let labs: Vec<Lab> = kit
        .labs()?
        .into_iter()
        .filter(|l| opts.source != Source::Solution || l.solution_dir.is_dir())
        .collect();
    if labs.is_empty() {
        anyhow::bail!(
            "there is nothing to grade: no lab in {} has a spec.yaml (and, with --solutions, a reference solution)",
            kit.root.display()
        );
    }
    for lab in labs {
        let t = grade(kit, &lab, opts).with_context(|| format!("grading {}", lab.id))?;
        total.passed += t.passed;
        total.failed += t.failed;
    }
    Ok(total)
}

/// `--bin-dir` made absolute, so replay lines work from anywhere.
pub fn absolute(dir: PathBuf) -> PathBuf {
    std::fs::canonicalize(&dir).unwrap_or(dir)
}
