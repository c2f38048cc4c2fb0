//! The command line: what `grader` is asked to do, and doing it.
//!
//! `main` sets the process up (the [keeper](sandbox::keeper), the
//! clean-up on signals), then parses the command line with
//! [`Cli::from_env`] and hands it to [`run`]. The clap types here are the
//! help text: their doc comments are what `grader --help` prints.
//!
//! Help and errors name the program as the user called it: `grader`, or
//! `cargo grader` through the kit's alias. The keeper runs the real
//! grader through `/proc/self/exe`, so it passes its own `argv[0]` on.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use nix::sys::signal::Signal;

use crate::grade::{self, Options, Replay};
use crate::kit::{Kit, Source};
use crate::pool::Jobs;
use crate::report::Format;
use crate::{bench, check, skeleton};

/// Grades the labs of the distributed-systems kit: runs your programs as
/// real processes on real UDP sockets, through a proxy that records (and,
/// in some tests, drops, duplicates or delays) every datagram.
///
/// Exit status: 0 all tests passed, 1 a test failed, 2 the grader could not run.
#[derive(Debug, Parser)]
#[command(
    name = "grader",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_value_name = "COMMAND"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    grade: GradeArgs,
    /// The kit's root directory (default: the kit containing the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// When the grader runs as root: build and run what is graded as this account (a name or a
    /// uid, the grader's alone: its processes are killed at the end) instead of an unused uid the
    /// grader picks; `root` keeps root.
    #[arg(long, global = true, value_name = "USER")]
    run_as: Option<String>,
}

/// `grader hw1 [OPTIONS]`: grade a lab.
#[derive(Debug, clap::Args)]
struct GradeArgs {
    /// The lab to grade (hw1 ... hw6), or `all`.
    #[arg(value_name = "LAB")]
    lab: Option<String>,
    /// Grade the reference solution instead of your crate in labs/.
    #[arg(long, conflicts_with = "bin_dir")]
    solutions: bool,
    /// Grade prebuilt executables in DIR (any language) that follow the lab's command-line contract.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Run only the test called NAME.
    #[arg(short = 't', long = "test", value_name = "NAME")]
    test: Option<String>,
    /// Seed for every random choice (faults, keys); printed in the report (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Run everything N times, with seeds SEED, SEED+1, ...
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Tests run at the same time (default: two per CPU, up to ten per CPU while the CPUs are idle).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Start no test after the first one that does not pass (those running finish); exit status 1.
    #[arg(long)]
    fail_fast: bool,
    /// Add the tests of FILE (`lab:` and `tests:`, as in a spec) to the lab it names; may be repeated.
    #[arg(long, value_name = "FILE")]
    extra_spec: Vec<PathBuf>,
    /// Under a failing test, print its timeline: every datagram and what became of it.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// The report's format; a machine format goes to stdout (or --output) and the human report to stderr.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report to FILE; the human report stays on the terminal.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// When a test fails with random faults, find the fewest of them, as rules, that still make it
    /// fail (runs it again, many times); with -t, one test.
    #[arg(long, requires = "test")]
    shrink: bool,
    /// Write every run's sequence diagram (SVG), capture (pcap, for Wireshark) and ShiViz log in
    /// DIR/LAB/ (a failing run's diagram and capture go to target/grader/LAB/ without it).
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    /// Write the whole report as one page, with the diagrams, to FILE (open it in a browser).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the labs and their tests.
    List,
    /// For instructors: every spec valid, every solution passes, every skeleton fails at a hole and is in sync, every mutant caught.
    Check {
        /// Only this lab.
        lab: Option<String>,
        /// Seed for the test runs (default: from the clock).
        #[arg(long)]
        seed: Option<u64>,
        /// Tests run at the same time.
        #[arg(short = 'j', long, value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Only the specs and the requirements they trace (labs/hwN-*/requirements.yaml):
        /// no build and no run, in a second
        #[arg(long)]
        requirements: bool,
    },
    /// For instructors: write labs/hwN-*/ from solutions/hwN-*/ (marked regions become holes).
    Generate {
        /// The lab, or `all`.
        lab: String,
    },
    /// For instructors: print the JSON Schema of spec.yaml (committed as specs/spec.schema.json).
    Schema,
    /// Grade a lab, then again whenever its files change (Ctrl+C stops it: exit status 130).
    ///
    /// Watches the graded crate's src/ and Cargo.toml (your crate in labs/, or the reference
    /// solution with --solutions; with --bin-dir, that directory's files), the lab's spec.yaml,
    /// its hidden tests and any --extra-spec file. A burst of changes (an editor saving several
    /// files) makes one run; target/ and editor temporaries (.swp, ~, .#*, 4913) are not
    /// changes; a change during a run is graded in one more run once it ends. Each run puts a
    /// summary on top of the usual report: on a terminal it clears the screen first, into a pipe
    /// it starts with a separator line.
    ///
    /// Ctrl+C (or SIGTERM, SIGHUP) stops it and every program it started: exit status 130. A
    /// grader error in a run (a bad spec while you edit it) is shown, and the watch goes on.
    Watch(crate::watch::WatchArgs),
    /// For instructors: measure the reference servers (requests/s beside a minimal server, idle
    /// CPU) and how long grading takes, on this machine (see BENCHMARKS.md).
    Bench {
        /// Seconds each server is driven, for each client count.
        #[arg(long, value_name = "S", default_value_t = 2.0, value_parser = positive_seconds)]
        seconds: f64,
        /// Skip the grading time (three runs of `grader all --solutions` and of each lab's).
        #[arg(long)]
        quick: bool,
        /// `text`, or `json` on stdout (the text then goes to stderr).
        #[arg(long, value_enum, default_value_t = BenchFormat::Text)]
        format: BenchFormat,
    },
    /// Started by `grader bench`: a minimal blocking UDP server on 127.0.0.1:PORT, until killed.
    #[command(hide = true)]
    BenchBaseline {
        /// The port to bind.
        #[arg(long)]
        port: u16,
        /// What it answers like.
        #[arg(long, value_enum)]
        answers: bench::Answers,
    },
}

/// The formats of `grader bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchFormat {
    /// For people.
    Text,
    /// The figures as JSON.
    Json,
}

/// A number of seconds, more than zero.
fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x < 1e6 => Ok(x),
        _ => Err(format!(
            "`{s}` is not a number of seconds above 0 (e.g. 2 or 0.5)"
        )),
    }
}

impl Cli {
    /// The command line of this process, parsed, with help and errors
    /// naming the program as the user called it. Like clap's own `parse`,
    /// prints the help (exit status 0) or the error (exit status 2) and
    /// exits.
    pub fn from_env() -> Cli {
        let args = root_last(std::env::args_os().collect());
        let mut command = Cli::command().bin_name(program_name(args.first()));
        let mut matches = (command.try_get_matches_from_mut(args)).unwrap_or_else(|e| e.exit());
        Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut command).exit())
    }
}

/// The program's name as the user called it, for help and errors:
/// `cargo grader` through the kit's alias, else the file name it was run
/// by (`argv[0]`, which the keeper passes on).
fn program_name(argv0: Option<&OsString>) -> String {
    let cargo = std::env::var_os("CARGO").is_some() && Kit::find(None).is_ok_and(|k| via_cargo(&k));
    if cargo {
        return "cargo grader".into();
    }
    argv0
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("grader")
        .to_string()
}

/// Moves a leading `--root DIR` to the end: once an option comes first,
/// clap takes the next word for a lab, so `grader --root DIR check` would
/// look for a lab called `check`. `--root` is global, so at the end it
/// applies to whatever command comes first.
fn root_last(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.len() > 3 && args[1] == "--root" {
        let root: Vec<_> = args.drain(1..3).collect();
        args.extend(root);
    }
    args
}

/// Tests run at once: `-j`, or [`JOBS_PER_CPU`] per CPU, and up to
/// [`JOBS_PER_CPU_SPARE`] per CPU while the CPUs have time to spare
/// ([`crate::pool`]). A test spends
/// most of its time waiting (for timeouts, replies, idle windows), not
/// computing, and no verdict depends on how busy the machine is: `idle`
/// steps judge the CPU a program *asks* for (running or waiting to run),
/// which other tests beside it do not change, and `load` steps compare a
/// server with the grader's own, driven in turns with it.
fn jobs(j: Option<u64>) -> Jobs {
    j.map_or_else(
        || Jobs::per_cpu(JOBS_PER_CPU, JOBS_PER_CPU_SPARE),
        |j| Jobs::fixed(j as usize),
    )
}

/// Tests run at once for each CPU, by default, however busy the machine.
/// More (four) beside busy loops leave each test's programs too little
/// CPU: a correct program written in Python then misses a test's time
/// limit (`grader/tests/busy.rs`).
const JOBS_PER_CPU: usize = 2;

/// Tests run at once for each CPU, at most, while the CPUs have time to
/// spare: the tests mostly wait on timers, so a quiet machine runs many.
/// `grader all --solutions` on two idle CPUs, median of 5: 4.3 s with
/// six, 3.9 s with eight, 3.4 s with ten or twelve, 3.8 s with sixteen.
/// The CPUs were idle three quarters of the time in the middle of a run
/// with eight, every test started waiting on a timer.
const JOBS_PER_CPU_SPARE: usize = 10;

/// Whether this grader was started by the kit's `cargo grader` alias: cargo
/// ran it (it sets `CARGO`) from the kit's own target directory.
fn via_cargo(kit: &Kit) -> bool {
    std::env::var_os("CARGO").is_some()
        && std::env::current_exe()
            .ok()
            .and_then(|e| std::fs::canonicalize(e).ok())
            .zip(std::fs::canonicalize(kit.root.join("target")).ok())
            .is_some_and(|(exe, target)| exe.starts_with(target))
}

/// Tells the user that a signal ended the grader, once the sandbox has
/// killed its `n` programs (on the sandbox's signal thread).
pub fn report_interrupt(sig: Signal, n: usize) {
    // The graded user's processes and private directory go too.
    let _ = crate::confine::end();
    let s = if n == 1 { "" } else { "s" };
    eprintln!("\ngrader: interrupted by {sig}: stopped {n} running program{s}");
}

/// The exit status of the keeper, once its worker is gone; tells the user
/// when the worker was killed and left processes that the keeper stopped.
pub fn keeper_done(worker: sandbox::keeper::Outcome) -> ExitCode {
    let status = i32::from(worker.status);
    if status > 128 && worker.swept > 0 {
        eprintln!(
            "grader: the grader was killed ({}); its keeper stopped {} it left running",
            Signal::try_from(status - 128)
                .map_or_else(|_| format!("signal {}", status - 128), |s| s.to_string()),
            crate::judge::processes(worker.swept)
        );
    }
    ExitCode::from(worker.status)
}

/// Does what the command line asks.
///
/// # Errors
/// When the grader itself cannot do it (no kit, a bad spec, a build that
/// cannot start): exit status 2. A failed test is not an error: it is
/// exit status 1.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(Command::Schema) = cli.command {
        crate::out!("{}", crate::spec::schema::generate().trim_end());
        return Ok(ExitCode::SUCCESS);
    }
    // Needs no kit: it runs until `grader bench` kills it.
    if let Some(Command::BenchBaseline { port, answers }) = cli.command {
        bench::baseline(port, answers)?;
        return Ok(ExitCode::SUCCESS);
    }
    let kit = Kit::find(cli.root.as_deref())?;
    if matches!(
        cli.command,
        None | Some(Command::Check { .. } | Command::Watch(_))
    ) {
        crate::confine::set_up(&kit, cli.run_as.as_deref())?;
    }
    let outcome = run_command(cli, &kit);
    // Also when grading failed: nothing of the graded user outlives it.
    let ended = crate::confine::end();
    let outcome = outcome?;
    ended?;
    Ok(outcome)
}

fn run_command(cli: Cli, kit: &Kit) -> anyhow::Result<ExitCode> {
    let kit = kit.clone();
    match cli.command {
        Some(Command::Schema | Command::BenchBaseline { .. }) => unreachable!("handled above"),
        Some(Command::Bench {
            seconds,
            quick,
            format,
        }) => run_bench(&kit, seconds, quick, format),
        Some(Command::List) => list(&kit),
        Some(Command::Check {
            lab,
            seed,
            jobs: j,
            requirements,
        }) => {
            let seed = seed.unwrap_or_else(handout::seed_from_clock);
            let scope = if requirements {
                check::Scope::Requirements
            } else {
                check::Scope::Everything
            };
            let c = check::kit(&kit, lab.as_deref(), seed, jobs(j), scope)?;
            for line in c.summary() {
                crate::out!("{line}");
            }
            Ok(passed(c.failed == 0))
        }
        Some(Command::Generate { lab }) => generate(&kit, &lab),
        Some(Command::Watch(args)) => {
            let replay = Replay {
                via_cargo: via_cargo(&kit),
                root: cli.root.map(grade::absolute),
            };
            let j = args.jobs;
            crate::watch::run(&kit, args, jobs(j), replay)
        }
        None => grade(&kit, cli.grade, cli.root),
    }
}

/// 0 when everything passed, else 1.
fn passed(all: bool) -> ExitCode {
    if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `grader list`: the labs, their tests, and the containment in use.
fn list(kit: &Kit) -> anyhow::Result<ExitCode> {
    for lab in kit.labs()? {
        let spec = grade::load_spec(&lab)?;
        let points: u32 = spec.tests.iter().map(|t| t.points).sum();
        crate::out!(
            "{}  {}  ({}, {points} points)",
            lab.id,
            spec.title,
            kit.show(&lab.lab_dir)
        );
        for t in &spec.tests {
            let mut also = String::new();
            if let Some(file) = &t.origin {
                also.push_str(&format!("  [from {}]", kit.show(file)));
            }
            if t.visibility != crate::spec::Visibility::Visible {
                also.push_str(&format!("  [{} on Gradescope]", t.visibility.name()));
            }
            crate::out!(
                "    {:<28} {:<8} {:>2} pt  {}{also}",
                t.name,
                t.part.name(),
                t.points,
                t.description
            );
        }
    }
    crate::out!("containment: {}", sandbox::describe());
    crate::out!("identity: {}", crate::confine::describe_identity());
    crate::out!("network: {}", crate::confine::describe_network());
    Ok(ExitCode::SUCCESS)
}

/// `grader bench`: the figures, as text on stdout, or as JSON on stdout
/// with the text on stderr.
fn run_bench(
    kit: &Kit,
    seconds: f64,
    quick: bool,
    format: BenchFormat,
) -> anyhow::Result<ExitCode> {
    let opts = bench::Options {
        seconds: std::time::Duration::from_secs_f64(seconds),
        quick,
    };
    let report = bench::run(kit, &opts)?;
    if format == BenchFormat::Json {
        eprintln!("{}", report.text());
        crate::out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}

/// `grader generate LAB`: the skeletons, from the solutions.
fn generate(kit: &Kit, lab: &str) -> anyhow::Result<ExitCode> {
    let labs = if lab == "all" {
        kit.labs()?
    } else {
        vec![kit.lab(lab)?]
    };
    for l in labs {
        let sk = skeleton::generate(&l.solution_dir)?;
        skeleton::write(&sk, &l.lab_dir)?;
        crate::out!(
            "generated {} from {} ({} holes)",
            kit.show(&l.lab_dir),
            kit.show(&l.solution_dir),
            sk.holes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `grader hw1 [OPTIONS]` (or `all`): grade.
fn grade(kit: &Kit, g: GradeArgs, root: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let Some(lab) = g.lab else {
        anyhow::bail!(
            "name a lab to grade (e.g. `grader hw1`), `all`, or a command: list, watch, check, generate, schema, bench (see --help)"
        );
    };
    let source = match (g.solutions, g.bin_dir) {
        (_, Some(d)) => Source::BinDir(grade::absolute(d)),
        (true, None) => Source::Solution,
        (false, None) => Source::Skeleton,
    };
    let labs = if lab == "all" {
        let labs: Vec<_> = kit
            .labs()?
            .into_iter()
            .filter(|l| source != Source::Solution || l.solution_dir.is_dir())
            .collect();
        if labs.is_empty() {
            anyhow::bail!(
                "there is nothing to grade: no lab in {} has a spec.yaml (and, with --solutions, a reference solution)",
                kit.root.display()
            );
        }
        labs
    } else {
        vec![kit.lab(&lab)?]
    };
    let opts = Options {
        source,
        test: g.test,
        seed: g.seed.unwrap_or_else(handout::seed_from_clock),
        repeat: g.repeat,
        jobs: jobs(g.jobs),
        fail_fast: g.fail_fast,
        extra_specs: g.extra_spec.into_iter().map(grade::absolute).collect(),
        verbose: g.verbose,
        format: g.format,
        output: g.output,
        replay: Replay {
            via_cargo: via_cargo(kit),
            root: root.map(grade::absolute),
        },
        shrink: g.shrink,
        trace: g.trace.map(grade::absolute),
        html: g.html,
    };
    let results = grade::grade(kit, &labs, &opts)?;
    Ok(passed(results.all_passed()))
}
