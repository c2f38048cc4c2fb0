//! Grading: for each lab, build it, run the selected tests in parallel
//! (spec → run → check), print the human report in spec order as the
//! tests finish, and gather [`Results`] for the machine formats.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::judge::{self, Status, Verdict};
use crate::kit::{self, BuildError, Kit, Lab, Programs, Source};
use crate::pool::{Gates, Jobs, Pool, in_parallel_ordered, in_parallel_until};
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
    pub jobs: Jobs,
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
    jobs: Jobs,
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
    jobs: Jobs,
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

/// How long each test took when it last ran on this kit, kept in
/// `target/grader/durations.tsv` (`lab<TAB>test<TAB>milliseconds`), so
/// that the pool starts the longest tests first: the whole grading then
/// ends about when its longest test does, instead of when the last test
/// started late ends. Only the order of starts depends on it, never a
/// verdict; a missing or unreadable file is an empty history.
#[derive(Debug, Default)]
pub struct Durations {
    took: std::collections::BTreeMap<(String, String), Duration>,
}

impl Durations {
    const FILE: &str = "durations.tsv";

    /// The history of `kit` (empty when there is none yet).
    pub fn load(kit: &Kit) -> Durations {
        let text = std::fs::read_to_string(kit.output_dir().join(Self::FILE)).unwrap_or_default();
        Durations::parse(&text)
    }

    fn parse(text: &str) -> Durations {
        let took = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (lab, test, ms) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
                Some((
                    (lab.to_string(), test.to_string()),
                    Duration::from_millis(ms),
                ))
            })
            .collect();
        Durations { took }
    }

    /// The indices of `jobs`, those that took longest last time first;
    /// tests never timed come first of all (they may be long), then the
    /// rest, each group in the order given.
    pub fn longest_first<'a, J>(
        &self,
        jobs: &'a [J],
        name: impl Fn(&'a J) -> (&'a str, &'a str),
    ) -> Vec<usize> {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&i| {
            let (lab, test) = name(&jobs[i]);
            let took = self.took.get(&(lab.to_string(), test.to_string()));
            std::cmp::Reverse(took.copied().unwrap_or(Duration::MAX))
        });
        order
    }

    /// How long the longest of `tests` of `lab` took; never timed is
    /// longest of all.
    fn longest_of(&self, lab: &str, tests: &[TestSpec]) -> Duration {
        (tests.iter())
            .map(|t| {
                let took = self.took.get(&(lab.to_string(), t.name.clone()));
                took.copied().unwrap_or(Duration::MAX)
            })
            .max()
            .unwrap_or_default()
    }

    /// Adds what `took` says (the last run of a test counts) and writes
    /// the history back; a history that cannot be written is skipped.
    pub fn save(mut self, kit: &Kit, took: Vec<((String, String), Duration)>) {
        if took.is_empty() {
            return;
        }
        self.took.extend(took);
        let text: String = (self.took.iter())
            .map(|((lab, test), d)| format!("{lab}\t{test}\t{}\n", d.as_millis()))
            .collect();
        let dir = kit.output_dir();
        let _ = std::fs::create_dir_all(&dir)
            .and_then(|()| crate::confine::write_report(&dir.join(Self::FILE), &text));
    }
}

/// Grades `labs`, prints the human report as it goes, writes the chosen
/// format where it belongs, and returns the results.
///
/// Every run of every selected test of every lab goes into one pool
/// ([`crate::pool`]) of `opts.jobs` workers, the longest tests first
/// ([`Durations`]). The labs are built one after another (cargo takes the
/// build directory's lock anyway) while the pool runs the tests of those
/// already built. The report comes once the builds are done, lab by lab in
/// spec order: each run is printed as soon as it and every run before it
/// are done. With `--fail-fast`, every lab is built first and the runs go
/// in rounds (see `run_pool`).
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
    let several = labs.len() > 1;
    let mut plans = Vec::new();
    for lab in labs {
        if let Some((spec, tests)) = selected(lab, opts, &extras, several)? {
            plans.push(Plan { lab, spec, tests });
        }
    }
    if plans.is_empty() {
        let t = opts.test.as_deref().unwrap_or("");
        anyhow::bail!("no lab has a test `{t}`");
    }
    let mut results: Vec<LabResult> = plans.iter().map(|p| p.result(kit, opts)).collect();
    let ready: Vec<OnceLock<Result<Ready, String>>> =
        plans.iter().map(|_| OnceLock::new()).collect();
    run_pool(kit, &plans, &ready, &mut results, opts, term, several)?;
    let ready: Vec<Option<Result<Ready, String>>> =
        ready.into_iter().map(OnceLock::into_inner).collect();
    if opts.shrink {
        for ((plan, r), result) in plans.iter().zip(&ready).zip(&results) {
            if let Some(Ok(r)) = r {
                shrink_failed(kit, plan.lab, &plan.spec, &r.programs, result, opts, term)?;
            }
        }
    }
    let results = Results {
        seed: opts.seed,
        repeat: opts.repeat,
        source: opts.source.clone(),
        labs: results,
        duration: started.elapsed(),
    };
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

/// A lab to grade: its spec and the tests selected.
struct Plan<'k> {
    lab: &'k Lab,
    spec: LabSpec,
    tests: Vec<TestSpec>,
}

impl Plan<'_> {
    /// Its result before any run.
    fn result(&self, kit: &Kit, opts: &Options) -> LabResult {
        LabResult {
            id: self.lab.id.clone(),
            title: self.spec.title.clone(),
            graded: opts.source.describe(kit, self.lab),
            build_error: None,
            tests: (self.tests.iter())
                .map(|t| TestResult {
                    spec: t.clone(),
                    runs: Vec::new(),
                    not_run: 0,
                })
                .collect(),
        }
    }
}

/// A lab that built: what its runs need.
struct Ready {
    programs: Programs,
}

/// One run of one test in the pool.
#[derive(Debug, Clone, Copy)]
struct Job {
    /// Index into the graded labs.
    lab: usize,
    /// Which run (0 for the first, seed `opts.seed`).
    repeat: u64,
    /// Index into the lab's selected tests.
    test: usize,
}

/// Builds every lab of `plans` into `ready` and runs every job of every
/// lab that built in one pool; prints the report lab by lab, in order, as
/// the runs finish.
///
/// Without `--fail-fast`, the labs build one after another on this thread
/// while the pool already runs the tests of those built ([`Pool`]'s
/// gates), the longest tests first. With it, every lab is built first (a
/// lab that does not build stops the labs after it), and the runs go in
/// rounds, one run (seed) of one lab at a time, in the order they are
/// reported, each round's tests at once in spec order: no run starts
/// after a round in which one did not pass.
fn run_pool(
    kit: &Kit,
    plans: &[Plan],
    ready: &[OnceLock<Result<Ready, String>>],
    results: &mut [LabResult],
    opts: &Options,
    term: Terminal,
    several: bool,
) -> anyhow::Result<()> {
    let mut jobs = Vec::new();
    for (lab, plan) in plans.iter().enumerate() {
        for repeat in 0..opts.repeat {
            jobs.extend((0..plan.tests.len()).map(|test| Job { lab, repeat, test }));
        }
    }
    let programs = |j: &Job| match ready[j.lab].get() {
        Some(Ok(r)) => &r.programs,
        _ => unreachable!("a job starts only once its lab is built"),
    };
    // Builds the labs in order, opening each one's gate; with --fail-fast,
    // a lab that does not build stops the labs after it (their gates stay
    // shut). The first grader error stops the builds.
    let trouble: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let durations = Durations::load(kit);
    // The lab with the longest test builds first, so that test starts
    // first; with --fail-fast, in report order.
    let mut build_order: Vec<usize> = (0..plans.len()).collect();
    if !opts.fail_fast {
        build_order.sort_by_key(|&i| {
            std::cmp::Reverse(durations.longest_of(&plans[i].lab.id, &plans[i].tests))
        });
    }
    let build_all = |gates: &Gates| {
        for &i in &build_order {
            let plan = &plans[i];
            match build(kit, plan.lab, &plan.spec, &opts.source)
                .with_context(|| format!("grading {}", plan.lab.id))
            {
                Ok(Built::Programs(programs)) => {
                    let _ = ready[i].set(Ok(Ready { programs }));
                    gates.open(i);
                }
                Ok(Built::CompileError(compiler)) => {
                    let _ = ready[i].set(Err(compiler));
                    gates.shut(i);
                    if opts.fail_fast {
                        return;
                    }
                }
                Err(e) => {
                    *trouble.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                    return;
                }
            }
        }
    };
    let tracing = report::trace::Tracing {
        failing: kit.output_dir(),
        every: opts.trace.clone(),
    };
    // Labs whose report is complete; the next to print comes after them.
    let mut printed = 0;
    let mut finish = |upto: usize, results: &mut [LabResult]| {
        while printed < upto {
            let r = &mut results[printed];
            if let Some(Err(compiler)) = ready[printed].get() {
                // The results keep plain text: cargo coloured it for a terminal.
                r.build_error = Some(kit::strip_ansi(compiler));
                term.print(&human::build_failure(r, compiler));
            }
            if several && (r.build_error.is_some() || r.tests.iter().any(|t| !t.runs.is_empty())) {
                term.print(&human::lab_score(r));
            }
            printed += 1;
        }
    };
    let work = |j: &Job| {
        run_one(
            &plans[j.lab].spec,
            &plans[j.lab].tests[j.test],
            programs(j),
            opts.seed.wrapping_add(j.repeat),
        )
    };
    let failed = |r: &anyhow::Result<(Record, Verdict)>| {
        opts.fail_fast && !matches!(r, Ok((_, v)) if v.status == Status::Passed)
    };
    let mut show = |i: usize, r: &anyhow::Result<(Record, Verdict)>| {
        let j = jobs[i];
        finish(j.lab, results);
        if trouble.lock().map_or(true, |t| t.is_some()) {
            return;
        }
        let Ok((record, verdict)) = r else { return };
        let result = &mut results[j.lab];
        let run_seed = opts.seed.wrapping_add(j.repeat);
        if j.test == 0 {
            term.print(&human::lab_header(
                result,
                run_seed,
                j.repeat + 1,
                opts.repeat,
            ));
        }
        let run = test_run(
            kit,
            plans[j.lab].lab,
            &result.tests[j.test].spec,
            &tracing,
            opts,
            j.repeat,
            record,
            verdict,
        );
        term.print(&human::run(&result.tests[j.test].spec, &run, opts.verbose));
        result.tests[j.test].runs.push(run);
    };
    let name = |j: &Job| {
        (
            plans[j.lab].lab.id.as_str(),
            plans[j.lab].tests[j.test].name.as_str(),
        )
    };

    let mut runs = Vec::with_capacity(jobs.len());
    if opts.fail_fast {
        // Every lab first: the gates are decided before any round.
        build_all(&Gates::new(plans.len(), 0));
        let mut rounds: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, j) in jobs.iter().enumerate() {
            match rounds.last_mut() {
                Some(r) if (jobs[r.start].lab, jobs[r.start].repeat) == (j.lab, j.repeat) => {
                    r.end = i + 1;
                }
                _ => rounds.push(i..i + 1),
            }
        }
        for round in rounds {
            let some = &jobs[round.clone()];
            let built = matches!(ready[some[0].lab].get(), Some(Ok(_)));
            if !built || runs.iter().flatten().any(failed) {
                runs.extend(some.iter().map(|_| None));
                continue;
            }
            let order: Vec<usize> = (0..some.len()).collect();
            runs.extend(in_parallel_ordered(
                some,
                &order,
                opts.jobs,
                work,
                failed,
                |i, r| show(round.start + i, r),
            ));
        }
    } else {
        let order = durations.longest_first(&jobs, name);
        let pool = Pool {
            order: &order,
            jobs: opts.jobs,
            gates: plans.len(),
            gate_of: &|j: &Job| j.lab,
        };
        runs = pool.run(&jobs, build_all, work, failed, &mut show);
    }
    if let Some(e) = trouble.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut took = Vec::new();
    for (j, run) in jobs.iter().zip(&runs) {
        match run {
            // A lab that did not build has no runs, and none missing.
            None if matches!(ready[j.lab].get(), Some(Err(_))) => {}
            None => results[j.lab].tests[j.test].not_run += 1,
            Some(Ok((record, _))) => took.push((
                (
                    results[j.lab].id.clone(),
                    results[j.lab].tests[j.test].spec.name.clone(),
                ),
                record.duration,
            )),
            Some(Err(_)) => {}
        }
    }
    for r in results.iter_mut() {
        if r.build_error.is_none() && r.tests.iter().all(|t| t.runs.is_empty() && t.not_run > 0) {
            r.graded = NOT_REACHED.into();
        }
    }
    finish(results.len(), results);
    durations.save(kit, took);
    // The first run that could not be set up is the error.
    runs.into_iter()
        .flatten()
        .find_map(Result::err)
        .map_or(Ok(()), |e| Err(e).context("setting up a test"))
}

/// What a lab says when `--fail-fast` stopped before any of its runs.
const NOT_REACHED: &str = "not graded: --fail-fast stopped at an earlier failure";

/// A finished run as the report keeps it: its files (diagram, capture)
/// written, its replay command.
#[allow(clippy::too_many_arguments)]
fn test_run(
    kit: &Kit,
    lab: &Lab,
    spec: &TestSpec,
    tracing: &report::trace::Tracing,
    opts: &Options,
    repeat: u64,
    record: &Record,
    verdict: &Verdict,
) -> TestRun {
    let run_seed = opts.seed.wrapping_add(repeat);
    let extra = spec
        .origin
        .as_deref()
        .filter(|p| *p != lab.hidden_path.as_path());
    let files = match tracing.write(
        &lab.id,
        &spec.name,
        (repeat + 1, opts.repeat),
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
    TestRun {
        files,
        run: repeat + 1,
        run_seed,
        record: record.clone(),
        verdict: verdict.clone(),
        replay: opts
            .replay
            .command(&lab.id, &opts.source, &spec.name, run_seed, extra),
    }
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
            opts.jobs.floor,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest tests of the last run start first; tests never timed
    /// before them all; equal ones in the order given.
    #[test]
    fn the_longest_tests_start_first() {
        let history = Durations::parse("hw1\techo\t200\nhw1\tloss\t900\nhw2\tkv\t200\nbad line\n");
        let jobs = [
            ("hw1", "echo"),
            ("hw1", "loss"),
            ("hw2", "new"),
            ("hw2", "kv"),
            ("hw1", "idle"),
        ];
        let order = history.longest_first(&jobs, |&(l, t)| (l, t));
        assert_eq!(order, [2, 4, 1, 0, 3]);
    }

    /// What a run took is kept for the next one, beside what it did not
    /// run.
    #[test]
    fn durations_are_kept_between_runs() {
        let dir = std::env::temp_dir().join(format!("grader-durations-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("labs")).unwrap();
        let kit = Kit::find(Some(&dir)).unwrap();
        assert!(Durations::load(&kit).took.is_empty());
        let key = |l: &str, t: &str| (l.to_string(), t.to_string());
        Durations::load(&kit).save(
            &kit,
            vec![
                (key("hw1", "echo"), Duration::from_millis(120)),
                (key("hw1", "loss"), Duration::from_millis(800)),
            ],
        );
        Durations::load(&kit).save(&kit, vec![(key("hw1", "echo"), Duration::from_millis(90))]);
        let took = Durations::load(&kit).took;
        assert_eq!(
            took.get(&key("hw1", "echo")),
            Some(&Duration::from_millis(90))
        );
        assert_eq!(
            took.get(&key("hw1", "loss")),
            Some(&Duration::from_millis(800))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
