//! Grading: for each lab, build it, run the selected tests in parallel
//! (spec → run → check), print the human report in spec order as the
//! tests finish, and gather [`Results`] for the machine formats.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;

use crate::judge::{self, Status, Verdict};
use crate::kit::{self, BuildError, Kit, Lab, Programs, Source};
use crate::report::human::{self, Terminal};
use crate::report::{self, Format, LabResult, Results, TestResult, TestRun};
use crate::run::record::Record;
use crate::run::{self, seed};
use crate::spec::{At, ExtraFile, LabSpec, NodePath, SpecError, TestSpec};

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
    /// Start no test after the first one that did not pass.
    pub fail_fast: bool,
    /// Files of extra tests (`--extra-spec`), each added to the lab it names.
    pub extra_specs: Vec<PathBuf>,
    /// Print the timeline of a failing test.
    pub verbose: bool,
    /// The report format.
    pub format: Format,
    /// Where the report goes (default stdout).
    pub output: Option<PathBuf>,
    /// How to write the replay command.
    pub replay: Replay,
    /// Shrink the faults of the (one) test when it fails (`--shrink`).
    pub shrink: bool,
    /// `--trace DIR`: every run's diagram, capture and ShiViz log there.
    pub trace: Option<PathBuf>,
    /// `--html FILE`: the whole report as one page.
    pub html: Option<PathBuf>,
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
    /// The command that runs `test` of `lab` again with run seed `seed`;
    /// `extra` is the file of extra tests the test came from, if it must be
    /// named (`--extra-spec`).
    pub fn command(
        &self,
        lab: &str,
        source: &Source,
        test: &str,
        seed: u64,
        extra: Option<&Path>,
    ) -> String {
        let program = if self.via_cargo {
            "cargo grader"
        } else {
            "grader"
        };
        let from = source.flag();
        let root = self
            .root
            .as_ref()
            .map_or(String::new(), |r| format!(" --root {}", r.display()));
        let extra = extra.map_or(String::new(), |p| format!(" --extra-spec {}", p.display()));
        format!("{program} {lab}{from}{extra} -t {test} --seed {seed}{root}")
    }
}

/// Loads a lab's spec, which must say the lab's own id in `lab:`, with
/// the lab's hidden tests when its hidden file exists
/// ([`Lab::hidden_path`]).
///
/// # Errors
/// A [`SpecError`]: the spec's own, a `lab:` that is not the id of the
/// directory it lives in, or one of the hidden file.
pub fn load_spec(lab: &Lab) -> Result<LabSpec, SpecError> {
    load_spec_with(lab, &[])
}

/// [`load_spec`], and then the tests of every file of `extras` that
/// names this lab.
///
/// # Errors
/// As [`load_spec`], and those of the extra files.
pub fn load_spec_with(lab: &Lab, extras: &[ExtraFile]) -> Result<LabSpec, SpecError> {
    let mut spec = load_own_spec(lab)?;
    if lab.hidden_path.is_file() {
        spec.add(&ExtraFile::load(&lab.hidden_path)?)?;
    }
    for extra in extras.iter().filter(|e| e.tests.lab == lab.id) {
        spec.add(extra)?;
    }
    Ok(spec)
}

fn load_own_spec(lab: &Lab) -> Result<LabSpec, SpecError> {
    let spec = LabSpec::load(&lab.spec_path)?;
    if spec.lab != lab.id {
        let text = std::fs::read_to_string(&lab.spec_path).unwrap_or_default();
        return Err(SpecError::at(
            &lab.spec_path,
            &text,
            &At::Key(NodePath::root().key("lab")),
            format!(
                "`lab: {}`, but the spec is lab {}'s (its directory starts with `{}-`)",
                spec.lab, lab.id, lab.id
            ),
        ));
    }
    Ok(spec)
}

/// Loads a lab's spec and gets its programs.
///
/// # Errors
/// A bad spec or an unavailable program (grader error); a compile error is
/// [`Built::CompileError`], because it is the graded crate's fault.
pub fn prepare(kit: &Kit, lab: &Lab, source: &Source) -> anyhow::Result<(LabSpec, Built)> {
    let spec = load_spec(lab)?;
    let programs = build(kit, lab, &spec, source)?;
    Ok((spec, programs))
}

/// What building the graded crate gave.
#[derive(Debug)]
pub enum Built {
    /// The programs, ready to run.
    Programs(Programs),
    /// The compiler's output: the graded crate does not build.
    CompileError(String),
}

/// The programs of `spec` from `source`.
fn build(kit: &Kit, lab: &Lab, spec: &LabSpec, source: &Source) -> anyhow::Result<Built> {
    let how = kit::BuildOptions {
        color: report::color_wanted(),
        limit: spec.limits.build.0,
    };
    match kit::programs(kit, lab, &spec.binaries, source, how) {
        Ok(p) => Ok(Built::Programs(p)),
        Err(BuildError::Compile(out)) => Ok(Built::CompileError(out)),
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
    each: impl FnMut(usize, &Record, &Verdict),
) -> anyhow::Result<Vec<(Record, Verdict)>> {
    let runs = run_until(spec, tests, programs, seed, jobs, false, each)?;
    Ok(runs.into_iter().flatten().collect())
}

/// [`run_all`], but with `fail_fast`, no test starts after one that did
/// not pass: the tests already running finish (and their programs end as
/// at the end of every test), and the tests never started are `None`.
///
/// # Errors
/// When a test cannot be set up (no free port, no socket).
pub fn run_until(
    spec: &LabSpec,
    tests: &[&TestSpec],
    programs: &Programs,
    seed: u64,
    jobs: usize,
    fail_fast: bool,
    mut each: impl FnMut(usize, &Record, &Verdict),
) -> anyhow::Result<Vec<Option<(Record, Verdict)>>> {
    let runs = in_parallel_until(
        tests,
        jobs,
        |t| run_one(spec, t, programs, seed),
        |r| fail_fast && !matches!(r, Ok((_, v)) if v.status == Status::Passed),
        |i, r| {
            if let Ok((record, verdict)) = r {
                each(i, record, verdict);
            }
        },
    );
    runs.into_iter()
        .map(Option::transpose)
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
    let verdict = judge::verdict(test, &record);
    Ok((record, verdict))
}

/// `work` on every item, `jobs` at a time; `each` sees the results in the
/// order of `items`, each as soon as it and those before it are done.
pub fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    each: impl FnMut(usize, &R),
) -> Vec<R> {
    in_parallel_until(items, jobs, work, |_| false, each)
        .into_iter()
        .flatten()
        .collect()
}

/// [`in_parallel`], until `enough` holds of a result: from then on no item
/// starts (those under way finish). Items never started are `None`, and
/// `each` passes over them.
pub fn in_parallel_until<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    enough: impl Fn(&R) -> bool + Sync,
    mut each: impl FnMut(usize, &R),
) -> Vec<Option<R>> {
    let next = Mutex::new(0usize);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    let mut done: Vec<Option<Option<R>>> = (0..items.len()).map(|_| None).collect();
    let mut shown = 0;
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(items.len().max(1)) {
            let (tx, next, work, enough, stop) = (tx.clone(), &next, &work, &enough, &stop);
            s.spawn(move || {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                        *n += 1;
                        *n - 1
                    };
                    let Some(item) = items.get(i) else { break };
                    let r = if stop.load(Ordering::SeqCst) {
                        None
                    } else {
                        let r = work(item);
                        if enough(&r) {
                            stop.store(true, Ordering::SeqCst);
                        }
                        Some(r)
                    };
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            done[i] = Some(r);
            while let Some(Some(r)) = done.get(shown) {
                if let Some(r) = r {
                    each(shown, r);
                }
                shown += 1;
            }
        }
    });
    done.into_iter().map(Option::flatten).collect()
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
    let extras = opts
        .extra_specs
        .iter()
        .map(|p| ExtraFile::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    for e in &extras {
        if !labs.iter().any(|l| l.id == e.tests.lab) {
            let graded: Vec<&str> = labs.iter().map(|l| l.id.as_str()).collect();
            return Err(e
                .lab_error(format!(
                    "`lab: {0}`, but lab {0} is not graded here (graded: {1}): a file of extra tests names the lab it is for",
                    e.tests.lab,
                    graded.join(", ")
                ))
                .into());
        }
    }
    let mut results = Results {
        seed: opts.seed,
        repeat: opts.repeat,
        source: opts.source.clone(),
        labs: Vec::new(),
        duration: Default::default(),
    };
    let several = labs.len() > 1;
    let mut stopped = false;
    for lab in labs {
        let r = if stopped {
            lab_not_run(lab, opts, &extras)
        } else {
            grade_lab(kit, lab, opts, &extras, term, several)
        }
        .with_context(|| format!("grading {}", lab.id))?;
        if let Some(r) = r {
            if several && !stopped {
                term.print(&human::lab_score(&r));
            }
            stopped |= opts.fail_fast && !r.all_passed();
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
    // Every process of the graded user is gone before the grade is
    // written, and nothing it prepared decides where it lands.
    crate::confine::end()?;
    if let Some(page) = &opts.html {
        crate::confine::write_report(page, &report::html::render(&results))
            .with_context(|| format!("writing the page to {}", page.display()))?;
        eprintln!("grader: the report as a page: {}", page.display());
    }
    match &opts.output {
        Some(path) => crate::confine::write_report(path, &machine)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None if opts.format != Format::Human => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(machine.as_bytes());
        }
        None => {}
    }
    Ok(results)
}

/// The selected tests of a lab's spec, with its extra tests; `None` when
/// grading several labs and this one lacks the test asked for.
fn selected(
    lab: &Lab,
    opts: &Options,
    extras: &[ExtraFile],
    several: bool,
) -> anyhow::Result<Option<(LabSpec, Vec<TestSpec>)>> {
    let spec = load_spec_with(lab, extras)?;
    let tests: Vec<TestSpec> = spec
        .select(opts.test.as_deref())
        .into_iter()
        .cloned()
        .collect();
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
    Ok(Some((spec, tests)))
}

/// A lab that `--fail-fast` did not reach: every selected test not run.
fn lab_not_run(
    lab: &Lab,
    opts: &Options,
    extras: &[ExtraFile],
) -> anyhow::Result<Option<LabResult>> {
    let Some((spec, tests)) = selected(lab, opts, extras, true)? else {
        return Ok(None);
    };
    Ok(Some(LabResult {
        id: lab.id.clone(),
        title: spec.title.clone(),
        graded: "not graded: --fail-fast stopped at an earlier failure".into(),
        build_error: None,
        tests: tests
            .into_iter()
            .map(|spec| TestResult {
                spec,
                runs: Vec::new(),
                not_run: opts.repeat,
            })
            .collect(),
    }))
}

/// One lab; `None` when grading several labs and this one lacks the test.
fn grade_lab(
    kit: &Kit,
    lab: &Lab,
    opts: &Options,
    extras: &[ExtraFile],
    term: Terminal,
    several: bool,
) -> anyhow::Result<Option<LabResult>> {
    let Some((spec, tests)) = selected(lab, opts, extras, several)? else {
        return Ok(None);
    };
    let programs = build(kit, lab, &spec, &opts.source)?;
    let graded = opts.source.describe(kit, lab);
    let mut result = LabResult {
        id: lab.id.clone(),
        title: spec.title.clone(),
        graded,
        build_error: None,
        tests: tests
            .iter()
            .map(|t| TestResult {
                spec: t.clone(),
                runs: Vec::new(),
                not_run: 0,
            })
            .collect(),
    };
    let programs = match programs {
        Built::Programs(p) => p,
        Built::CompileError(compiler) => {
            term.print(&human::build_failure(&result, &compiler));
            // The results keep plain text: cargo coloured it for a terminal.
            result.build_error = Some(kit::strip_ansi(&compiler));
            return Ok(Some(result));
        }
    };
    let tests: Vec<&TestSpec> = tests.iter().collect();
    let tracing = report::trace::Tracing {
        failing: kit.output_dir(),
        every: opts.trace.clone(),
    };
    let mut stopped = false;
    for r in 0..opts.repeat {
        if stopped {
            for t in &mut result.tests {
                t.not_run += 1;
            }
            continue;
        }
        let run_seed = opts.seed.wrapping_add(r);
        term.print(&human::lab_header(&result, run_seed, r + 1, opts.repeat));
        let results_ref = &mut result;
        let runs = run_until(
            &spec,
            &tests,
            &programs,
            run_seed,
            opts.jobs,
            opts.fail_fast,
            |i, record, verdict| {
                let t = &mut results_ref.tests[i];
                let extra = t
                    .spec
                    .origin
                    .as_deref()
                    .filter(|p| *p != lab.hidden_path.as_path());
                let files = match tracing.write(
                    &lab.id,
                    &t.spec.name,
                    (r + 1, opts.repeat),
                    record,
                    verdict,
                ) {
                    Ok(files) => (files.into_iter())
                        .map(|(path, what)| (kit.show(&path), what))
                        .collect(),
                    Err(e) => {
                        eprintln!("grader: {e}");
                        Vec::new()
                    }
                };
                let run = TestRun {
                    files,
                    run: r + 1,
                    run_seed,
                    record: record.clone(),
                    verdict: verdict.clone(),
                    replay: opts.replay.command(
                        &lab.id,
                        &opts.source,
                        &t.spec.name,
                        run_seed,
                        extra,
                    ),
                };
                term.print(&human::run(&t.spec, &run, opts.verbose));
                t.runs.push(run);
            },
        )?;
        for (t, run) in result.tests.iter_mut().zip(&runs) {
            if run.is_none() {
                t.not_run += 1;
                stopped = true;
            }
        }
        stopped |= opts.fail_fast
            && runs
                .iter()
                .flatten()
                .any(|(_, v)| v.status != Status::Passed);
    }
    if opts.shrink {
        shrink_failed(kit, lab, &spec, &programs, &result, opts, term)?;
    }
    Ok(Some(result))
}

/// `--shrink`: the first failed run of each test graded, shrunk to the
/// fewest faults that still make it fail (see [`crate::shrink`]); prints
/// the rules, writes the shrunk test beside the kit's other output, and
/// says how to replay it.
fn shrink_failed(
    kit: &Kit,
    lab: &Lab,
    spec: &LabSpec,
    programs: &Programs,
    result: &LabResult,
    opts: &Options,
    term: Terminal,
) -> anyhow::Result<()> {
    use crate::report::text::{Line, Tone};
    for t in &result.tests {
        let Some(run) = t.runs.iter().find(|r| r.verdict.status == Status::Failed) else {
            continue;
        };
        let say = |s: &str| eprintln!("grader: {s}");
        let shrunk = match crate::shrink::shrink(
            spec,
            &t.spec,
            programs,
            run.run_seed,
            opts.jobs,
            &run.record,
            say,
        ) {
            Ok(s) => s,
            Err(e) => {
                term.print(&[Line::new(
                    0,
                    Tone::Warn,
                    format!("shrink {}: {e:#}", t.spec.name),
                )]);
                continue;
            }
        };
        let from = t.spec.origin.as_deref().unwrap_or(&lab.spec_path);
        let dir = kit.output_dir().join(&lab.id);
        let file = dir.join(format!("{}-shrunk.yaml", t.spec.name));
        let name = crate::shrink::write_extra(from, &lab.id, &t.spec.name, &shrunk.rules, &file)?;
        let how = if shrunk.minimal {
            "no single rule of them can go"
        } else {
            "the search stopped at its bound; it may shrink further"
        };
        let mut lines = vec![Line::new(
            0,
            Tone::Strong,
            format!(
                "{} {} fails with {} of its run's {} random drops and duplicates, as rules ({how}; {} runs):",
                lab.id,
                t.spec.name,
                shrunk.rules.len(),
                shrunk.candidates,
                shrunk.runs
            ),
        )];
        if shrunk.rules.is_empty() {
            lines.push(Line::new(
                2,
                Tone::Plain,
                "none of them: the test's own rules are enough to make it fail (its spec shows them)",
            ));
        } else {
            lines.push(Line::new(2, Tone::Dim, "network:"));
            lines.push(Line::new(4, Tone::Dim, "rules:"));
            lines.extend(
                crate::shrink::yaml(&shrunk.rules)
                    .into_iter()
                    .map(|r| Line::new(6, Tone::Plain, r)),
            );
        }
        lines.push(Line::new(
            2,
            Tone::Plain,
            format!("the test shrunk: {}", kit.show(&file)),
        ));
        let picture = dir.join(format!("{name}.svg"));
        let (record, verdict) = &shrunk.run;
        match crate::confine::write_report(&picture, &report::diagram::svg(record, Some(verdict))) {
            Ok(()) => lines.push(Line::new(
                2,
                Tone::Plain,
                format!("its diagram: {}", kit.show(&picture)),
            )),
            Err(e) => eprintln!("grader: cannot write {}: {e}", picture.display()),
        }
        lines.push(Line::new(
            2,
            Tone::Plain,
            format!(
                "replay: {}",
                opts.replay
                    .command(&lab.id, &opts.source, &name, run.run_seed, Some(&file))
            ),
        ));
        term.print(&lines);
    }
    Ok(())
}

/// `--bin-dir` made absolute, so replay lines work from anywhere.
pub fn absolute(dir: PathBuf) -> PathBuf {
    std::fs::canonicalize(&dir).unwrap_or(dir)
}
