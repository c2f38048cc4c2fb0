//! Grading: for each lab, build it, run the selected tests in parallel
//! (spec → run → check), print the human report in spec order as the
//! tests finish, and gather [`Results`] for the machine formats.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;

use crate::check::{self, Verdict};
use crate::kit::{self, BuildError, Kit, Lab, Programs, Source};
use crate::report::human::{self, Terminal};
use crate::report::{self, Format, LabResult, Results, TestResult, TestRun};
use crate::run::record::Record;
use crate::run::{self, seed};
use crate::spec::{LabSpec, TestSpec};

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
    /// Print the timeline of a failing test.
    pub verbose: bool,
    /// The report format.
    pub format: Format,
    /// Where the report goes (default stdout).
    pub output: Option<PathBuf>,
    /// How to write the replay command.
    pub replay: Replay,
}

/// How the user ran the grader, so that a `replay:` line can be pasted.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Through the kit's `cargo grader` alias.
    pub via_cargo: bool,
    /// `--root DIR`, when given.
    pub root: Option<PathBuf>,
}

impl Replay {
    /// The command that runs `test` of `lab` again with run seed `seed`.
    pub fn command(&self, lab: &str, source: &Source, test: &str, seed: u64) -> String {
        let program = if self.via_cargo {
            "cargo grader"
        } else {
            "grader"
        };
        let from = match source {
            Source::Skeleton => String::new(),
            Source::Solution => " --solutions".into(),
            Source::BinDir(d) => format!(" --bin-dir {}", d.display()),
        };
        let root = self
            .root
            .as_ref()
            .map_or(String::new(), |r| format!(" --root {}", r.display()));
        format!("{program} {lab}{from} -t {test} --seed {seed}{root}")
    }
}

/// Loads a lab's spec, which must say the lab's own id in `lab:`.
///
/// # Errors
/// A [`crate::spec::SpecError`]: the spec's own, or a `lab:` that is not
/// the id of the directory it lives in.
pub fn load_spec(lab: &Lab) -> Result<LabSpec, crate::spec::SpecError> {
    let spec = LabSpec::load(&lab.spec_path)?;
    if spec.lab != lab.id {
        let text = std::fs::read_to_string(&lab.spec_path).unwrap_or_default();
        let (line, column) = crate::spec::locate(&text, None, "lab:", 0);
        return Err(crate::spec::SpecError {
            file: lab.spec_path.clone(),
            line,
            column,
            message: format!(
                "`lab: {}`, but the spec is lab {}'s (its directory starts with `{}-`)",
                spec.lab, lab.id, lab.id
            ),
        });
    }
    Ok(spec)
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
    let spec = load_spec(lab)?;
    let programs = build(kit, lab, &spec, source)?;
    Ok((spec, programs))
}

/// The programs of `spec` from `source`; a compile error is `Ok(Err(..))`.
fn build(
    kit: &Kit,
    lab: &Lab,
    spec: &LabSpec,
    source: &Source,
) -> anyhow::Result<Result<Programs, String>> {
    let how = kit::BuildOptions {
        color: report::color_wanted(),
        limit: spec.limits.build.0,
    };
    match kit::programs(kit, lab, &spec.binaries, source, how) {
        Ok(p) => Ok(Ok(p)),
        Err(BuildError::Compile(out)) => Ok(Err(out)),
        Err(BuildError::Other(e)) => Err(e),
    }
}

/// Runs `tests` of `spec` with run seed `seed`, `jobs` at a time, and calls
/// `each` with every run in spec order as soon as it and those before it
/// are done.
///
/// # Errors
/// When a test cannot be set up (no free port, no socket).
pub fn run_all(
    spec: &LabSpec,
    tests: &[&TestSpec],
    programs: &Programs,
    seed: u64,
    jobs: usize,
    mut each: impl FnMut(usize, &Record, &Verdict),
) -> anyhow::Result<Vec<(Record, Verdict)>> {
    let runs = in_parallel(
        tests,
        jobs,
        |t| run_one(spec, t, programs, seed),
        |i, r| {
            if let Ok((record, verdict)) = r {
                each(i, record, verdict);
            }
        },
    );
    runs.into_iter()
        .collect::<anyhow::Result<Vec<_>>>()
        .context("setting up a test")
}

/// Runs and judges one test with run seed `seed`.
///
/// # Errors
/// When the test cannot be set up.
pub fn run_one(
    spec: &LabSpec,
    test: &TestSpec,
    programs: &Programs,
    seed: u64,
) -> anyhow::Result<(Record, Verdict)> {
    let record = run::run_test(spec, test, programs, seed::test_seed(seed, &test.name))?;
    let verdict = check::judge(test, &record);
    Ok((record, verdict))
}

/// `work` on every item, `jobs` at a time; `each` sees the results in the
/// order of `items`, each as soon as it and those before it are done.
pub fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut each: impl FnMut(usize, &R),
) -> Vec<R> {
    let next = Mutex::new(0usize);
    let (tx, rx) = mpsc::channel();
    let mut done: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let mut shown = 0;
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(items.len().max(1)) {
            let (tx, next, work) = (tx.clone(), &next, &work);
            s.spawn(move || {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, work(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            done[i] = Some(r);
            while let Some(Some(r)) = done.get(shown) {
                each(shown, r);
                shown += 1;
            }
        }
    });
    done.into_iter().flatten().collect()
}

/// Grades `labs`, prints the human report as it goes, writes the chosen
/// format where it belongs, and returns the results.
///
/// # Errors
/// Grader errors: bad spec, missing program, unknown test, a report that
/// cannot be written.
pub fn grade(kit: &Kit, labs: &[Lab], opts: &Options) -> anyhow::Result<Results> {
    let started = Instant::now();
    let term = Terminal {
        to_stderr: opts.format != Format::Human && opts.output.is_none(),
    };
    let mut results = Results {
        seed: opts.seed,
        repeat: opts.repeat,
        source: match opts.source {
            Source::Skeleton => "skeleton",
            Source::Solution => "solution",
            Source::BinDir(_) => "bin-dir",
        },
        labs: Vec::new(),
        duration: Default::default(),
    };
    let several = labs.len() > 1;
    for lab in labs {
        let r = grade_lab(kit, lab, opts, term, several)
            .with_context(|| format!("grading {}", lab.id))?;
        if let Some(r) = r {
            if several {
                term.print(&human::lab_score(&r));
            }
            results.labs.push(r);
        }
    }
    if results.labs.is_empty() {
        let t = opts.test.as_deref().unwrap_or("");
        anyhow::bail!("no lab has a test `{t}`");
    }
    results.duration = started.elapsed();
    term.print(&human::summary(&results));
    let machine = report::render(opts.format, &results);
    match &opts.output {
        Some(path) => std::fs::write(path, machine)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None if opts.format != Format::Human => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(machine.as_bytes());
        }
        None => {}
    }
    Ok(results)
}

/// One lab; `None` when grading several labs and this one lacks the test.
fn grade_lab(
    kit: &Kit,
    lab: &Lab,
    opts: &Options,
    term: Terminal,
    several: bool,
) -> anyhow::Result<Option<LabResult>> {
    let spec = load_spec(lab)?;
    let tests = spec.select(opts.test.as_deref());
    if opts.test.is_some() && tests.is_empty() && several {
        return Ok(None);
    }
    if let Some(t) = &opts.test
        && tests.is_empty()
    {
        let names: Vec<&str> = spec.tests.iter().map(|t| t.name.as_str()).collect();
        anyhow::bail!(
            "lab {} has no test `{t}` (its tests: {})",
            lab.id,
            names.join(", ")
        );
    }
    let programs = build(kit, lab, &spec, &opts.source)?;
    let graded = match &opts.source {
        Source::Skeleton => kit.show(&lab.lab_dir),
        Source::Solution => format!("{} (reference solution)", kit.show(&lab.solution_dir)),
        Source::BinDir(d) => format!("executables in {}", d.display()),
    };
    let mut result = LabResult {
        id: lab.id.clone(),
        title: spec.title.clone(),
        graded,
        build_error: None,
        tests: tests
            .iter()
            .map(|t| TestResult {
                spec: (*t).clone(),
                runs: Vec::new(),
            })
            .collect(),
    };
    let programs = match programs {
        Ok(p) => p,
        Err(compiler) => {
            term.print(&human::build_failure(&result, &compiler));
            // The results keep plain text: cargo coloured it for a terminal.
            result.build_error = Some(kit::strip_ansi(&compiler));
            return Ok(Some(result));
        }
    };
    for r in 0..opts.repeat {
        let run_seed = opts.seed.wrapping_add(r);
        term.print(&human::lab_header(&result, run_seed, r + 1, opts.repeat));
        let tests_ref = &tests;
        let results_ref = &mut result;
        run_all(
            &spec,
            tests_ref,
            &programs,
            run_seed,
            opts.jobs,
            |i, record, verdict| {
                let t = &mut results_ref.tests[i];
                let run = TestRun {
                    run: r + 1,
                    run_seed,
                    record: record.clone(),
                    verdict: verdict.clone(),
                    replay: opts
                        .replay
                        .command(&lab.id, &opts.source, &t.spec.name, run_seed),
                };
                term.print(&human::run(&t.spec, &run, opts.verbose));
                t.runs.push(run);
            },
        )?;
    }
    Ok(Some(result))
}

/// `--bin-dir` made absolute, so replay lines work from anywhere.
pub fn absolute(dir: PathBuf) -> PathBuf {
    std::fs::canonicalize(&dir).unwrap_or(dir)
}
