//! `grader bench`: how fast the reference servers are, how little they
//! ask of an idle machine, and how long grading takes, measured on this
//! machine in one run.
//!
//! A figure alone says little about a server on a shared machine: the
//! same server may answer twice as fast on an idle laptop as beside a
//! build. So each server is measured *beside a baseline*, the simplest
//! server there is ([`load::Baseline`]: `recvfrom(2)` then `sendto(2)`),
//! in a process of its own, driven in turn with it in short slices
//! ([`load::drive_alternating`]), so that whatever else the machine does
//! falls on both alike. Their ratio carries from one run (or machine) to
//! another better than either figure alone. `BENCHMARKS.md` at the kit's root holds figures and how to
//! read them.
//!
//! # Design
//!
//! - The reference solutions are built as grading builds them
//!   ([`grade::prepare`] with [`Source::Solution`]).
//! - A lab's servers are started as its `idle-cpu` test starts them (the
//!   test that starts them and nothing else): the programs of its `start`
//!   steps before its `idle` step, with the same arguments, but each
//!   `{peer:X}` is X's own port, not the grader's proxy: the proxy is not
//!   in the path of any figure here. The `idle` step's node is the one
//!   driven (hw5's primary). A server of the lab that the test does not
//!   start (hw3's storage server) is started alone, as the first test that
//!   runs it alone starts it.
//! - Every program, the baselines too, is started through the
//!   [sandbox], as tests start theirs: in a process group of its own,
//!   killed when bench ends, on an error, on Ctrl+C, or when the grader
//!   is killed (the keeper). The limits are the lab's, but for CPU time
//!   and output, which a server under load for minutes may pass: a server
//!   prints a line per request in some labs.
//! - Only the reference solutions run, and they are the instructor's:
//!   they run as the grader's own user, unconfined (`--run-as` does not
//!   apply), as grading runs the programs of a grader that is not root.
//! - A baseline runs in a process of its own, the grader's own executable
//!   with the hidden command `grader bench-baseline`, so that it does not
//!   share the load generator's process (its allocator, its scheduler
//!   entity) any more than the reference server does.
//! - Grading time runs the grader's own executable, `grader all
//!   --solutions --root KIT` and each lab's, as a person would, three
//!   times each. A run is killed when bench fails; on Ctrl+C or SIGTERM,
//!   the keeper of this grader kills it and whatever it started.
//!
//! # Layout
//! - this file: the benchmarks, in order, and the figures they give;
//! - `servers`: the servers driven, started through the sandbox as a
//!   lab's test starts them, and the baselines;
//! - `text`: the report for people.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::grade::{self, Built};
use crate::kit::{Kit, Lab, Programs, Source};
use crate::run::load::{self, Figures, Load, Workload};
use crate::spec::LabSpec;

mod servers;
mod text;

use servers::{Cluster, Server};

/// The client counts of the echo benchmark.
const ECHO_CLIENTS: [usize; 2] = [1, 4];

/// The clients of the store and write-path benchmarks.
const CLIENTS: usize = 4;

/// Slices each target's time is cut into (A B A B ...).
const SLICES: u32 = 4;

/// How long a request may go unanswered before it counts as lost: far
/// longer than any answer takes, even on a busy machine.
const TIMEOUT: Duration = Duration::from_secs(1);

/// How long each server sits idle while its CPU use is measured.
const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// Runs of each grading command; the median is reported.
const GRADING_RUNS: usize = 3;

/// How often a starting server is looked at, until it has bound its port.
const BIND_POLL: Duration = Duration::from_millis(5);

/// The seed of the servers' `{seed}` arguments.
const SEED: u64 = 1;

/// What `grader bench` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time each target is driven, for each client count.
    pub seconds: Duration,
    /// Skip the grading time (minutes, where the rest takes seconds).
    pub quick: bool,
}

/// What a baseline answers like: `grader bench-baseline --answers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Answers {
    /// hw1's server: a READ_REP for every READ_REQ ([`load::echo_reply`]).
    Echo,
    /// A store that stores nothing ([`load::store_reply`]).
    Store,
}

impl Answers {
    fn respond(self) -> fn(&[u8]) -> Option<Vec<u8>> {
        match self {
            Answers::Echo => load::echo_reply,
            Answers::Store => load::store_reply,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Answers::Echo => "echo",
            Answers::Store => "store",
        }
    }
}

/// `grader bench-baseline --port N --answers KIND`: a baseline in the
/// foreground, until killed.
///
/// # Errors
/// When the port cannot be bound or the socket fails.
pub fn baseline(port: u16, answers: Answers) -> anyhow::Result<()> {
    load::respond_forever(port, answers.respond())?;
    Ok(())
}

/// Everything `grader bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where it was measured.
    pub machine: Machine,
    /// Time each target was driven, per client count, in seconds.
    pub seconds: f64,
    /// hw1's server beside the echo baseline, at each client count.
    pub echo: Vec<Comparison>,
    /// Every reference server, idle.
    pub idle: Vec<Idle>,
    /// Wall times of grading (`None` with `--quick`).
    pub grading: Option<Vec<Grading>>,
    /// hw2's server beside the store baseline.
    pub store: Comparison,
    /// hw5's primary (with its two backups) beside the store baseline.
    pub write_path: Comparison,
}

/// The machine and the grader that measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel's release (`uname -r`).
    pub kernel: String,
    /// `MemTotal` of `/proc/meminfo`, in MiB.
    pub memory_mib: u64,
    /// `debug` or `release`: how this grader, and so its load generator, was built.
    pub grader_build: &'static str,
}

/// A server and a baseline driven in turn with the same load.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Closed-loop clients.
    pub clients: usize,
    /// The reference server (or primary).
    pub reference: Measured,
    /// The baseline.
    pub baseline: Measured,
    /// Requests per second of the reference over the baseline's.
    pub ratio: f64,
}

/// One target's figures, in units for people and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// What was driven: `hw1 server`, `baseline (echo)`.
    pub target: String,
    /// Requests answered per second.
    pub per_second: f64,
    /// Median latency, in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: f64,
    /// Requests answered.
    pub answered: u64,
    /// Requests lost (unanswered within the timeout).
    pub lost: u64,
    /// Replies that answered no request in flight.
    pub wrong: u64,
    /// Seconds spent driving it.
    pub elapsed_s: f64,
}

impl Measured {
    fn of(target: &str, f: &Figures) -> Measured {
        Measured {
            target: target.to_string(),
            per_second: f.per_second,
            p50_us: f.p50.as_secs_f64() * 1e6,
            p99_us: f.p99.as_secs_f64() * 1e6,
            answered: f.answered,
            lost: f.lost,
            wrong: f.wrong,
            elapsed_s: f.elapsed.as_secs_f64(),
        }
    }
}

/// What an idle server asked of the CPU.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    /// The lab.
    pub lab: String,
    /// The node, as the lab's test names it: `server`, `cache`, `backup0`.
    pub program: String,
    /// Time on a CPU, in percent of the window (`None` where the kernel keeps no schedstat).
    pub cpu_percent: Option<f64>,
    /// Time on a CPU or waiting for one, in percent of the window: what it asked for.
    pub asked_percent: Option<f64>,
    /// Times one of its threads was put on a CPU.
    pub wakeups: Option<u64>,
    /// The window, in seconds.
    pub window_s: f64,
}

/// The wall time of one grading command.
#[derive(Debug, Clone, Serialize)]
pub struct Grading {
    /// `all`, `hw1`, ...
    pub what: String,
    /// The command, as run.
    pub command: String,
    /// Each run's wall time, in seconds.
    pub runs_s: Vec<f64>,
    /// Their median.
    pub median_s: f64,
    /// Whether every run exited with status 0 (every test passed).
    pub passed: bool,
}

/// Measures everything `opts` asks for, printing progress on stderr.
///
/// # Errors
/// When a reference solution does not build or is missing, a server does
/// not start, a socket cannot be made, or a grading run cannot start.
pub fn run(kit: &Kit, opts: &Options) -> anyhow::Result<Report> {
    let built = build(kit)?;
    let lab = |id: &str| {
        (built.iter()).find(|b| b.lab.id == id).ok_or_else(|| {
            anyhow::anyhow!(
                "grader bench measures lab {id}'s reference solution, and the kit has none"
            )
        })
    };
    let seconds = opts.seconds;
    let echo = echo(lab("hw1")?, seconds)?;
    let store = against_baseline(
        lab("hw2")?,
        Answers::Store,
        seconds,
        &load::Store,
        "hw2 store",
    )?;
    let write_path = against_baseline(
        lab("hw5")?,
        Answers::Store,
        seconds,
        &load::Writes,
        "hw5 write path",
    )?;
    let idle = idle(&built)?;
    let grading = if opts.quick {
        None
    } else {
        Some(grading_time(kit, &built)?)
    };
    Ok(Report {
        machine: Machine::this(),
        seconds: seconds.as_secs_f64(),
        echo,
        idle,
        grading,
        store,
        write_path,
    })
}

/// A lab, its spec, and its reference programs, built.
struct BuiltLab {
    lab: Lab,
    spec: LabSpec,
    programs: Programs,
}

/// Builds every lab's reference solution, as grading does.
fn build(kit: &Kit) -> anyhow::Result<Vec<BuiltLab>> {
    let mut built = Vec::new();
    for lab in kit.labs()?.into_iter().filter(|l| l.solution_dir.is_dir()) {
        let (spec, programs) = grade::prepare(kit, &lab, &Source::Solution)?;
        let programs = match programs {
            Built::Programs(p) => p,
            Built::CompileError(out) => bail!(
                "the reference solution {} does not build:\n{out}",
                kit.show(&lab.solution_dir)
            ),
        };
        built.push(BuiltLab {
            lab,
            spec,
            programs,
        });
    }
    Ok(built)
}

fn progress(what: &str) {
    eprintln!("grader: bench: {what}");
}

/// Section 1: hw1's server beside the echo baseline, at 1 and 4 clients.
fn echo(hw1: &BuiltLab, seconds: Duration) -> anyhow::Result<Vec<Comparison>> {
    let servers = Cluster::start(hw1, "idle-cpu")?;
    let baseline = Server::baseline(Answers::Echo, &hw1.spec.limits)?;
    let mut rows = Vec::new();
    for clients in ECHO_CLIENTS {
        progress(&format!(
            "hw1 server and the echo baseline, {clients} client(s), {} each",
            show(seconds)
        ));
        let load = Load {
            clients,
            duration: seconds,
            timeout: TIMEOUT,
        };
        rows.push(compare(
            &servers,
            &baseline,
            &load,
            &load::Echo,
            "hw1 server",
        )?);
    }
    Ok(rows)
}

/// Sections 4 and 5: the lab's driven server (hw2's server, hw5's
/// primary) beside a baseline, at [`CLIENTS`] clients.
fn against_baseline(
    lab: &BuiltLab,
    answers: Answers,
    seconds: Duration,
    work: &dyn Workload,
    what: &str,
) -> anyhow::Result<Comparison> {
    let servers = Cluster::start(lab, "idle-cpu")?;
    let baseline = Server::baseline(answers, &lab.spec.limits)?;
    progress(&format!(
        "{what}: {} and the {} baseline, {CLIENTS} clients, {} each",
        servers.target().name,
        answers.name(),
        show(seconds)
    ));
    let load = Load {
        clients: CLIENTS,
        duration: seconds,
        timeout: TIMEOUT,
    };
    let name = format!("{} {}", lab.lab.id, servers.target().name);
    compare(&servers, &baseline, &load, work, &name)
}

/// Drives the cluster's target and the baseline in turn.
fn compare(
    servers: &Cluster,
    baseline: &Server,
    load: &Load,
    work: &dyn Workload,
    name: &str,
) -> anyhow::Result<Comparison> {
    let targets = [servers.target().addr(), baseline.addr()];
    let figures = load::drive_alternating(&targets, load, SLICES, work)
        .with_context(|| format!("driving {name} and its baseline"))?;
    servers.still_running()?;
    baseline.still_running()?;
    let (reference, base) = (&figures[0], &figures[1]);
    Ok(Comparison {
        clients: load.clients,
        reference: Measured::of(name, reference),
        baseline: Measured::of(&baseline.name, base),
        ratio: if base.per_second > 0.0 {
            reference.per_second / base.per_second
        } else {
            0.0
        },
    })
}

/// Section 2: every reference server started, left alone for
/// [`IDLE_WINDOW`], its threads' scheduler counts read before and after.
fn idle(built: &[BuiltLab]) -> anyhow::Result<Vec<Idle>> {
    progress(&format!(
        "every reference server idle for {}",
        show(IDLE_WINDOW)
    ));
    let mut clusters = Vec::new();
    for lab in built {
        let cluster = Cluster::start(lab, "idle-cpu")?;
        let started: Vec<&str> = cluster.servers.iter().map(|s| s.bin.as_str()).collect();
        let others: Vec<String> = (lab.spec.binaries.iter())
            .filter(|b| !started.contains(&b.as_str()))
            .cloned()
            .collect();
        clusters.push((lab, cluster));
        for bin in others {
            if let Some(alone) = Cluster::alone(lab, &bin)? {
                clusters.push((lab, alone));
            }
        }
    }
    let servers: Vec<(&BuiltLab, &Server)> = (clusters.iter())
        .flat_map(|(lab, c)| c.servers.iter().map(move |s| (*lab, s)))
        .collect();
    let before: Vec<_> = (servers.iter())
        .map(|(_, s)| (Instant::now(), sandbox::Sched::of(s.pid())))
        .collect();
    std::thread::sleep(IDLE_WINDOW);
    let mut rows = Vec::new();
    for ((lab, server), (t0, sched0)) in servers.iter().zip(before) {
        let (window, sched1) = (t0.elapsed(), sandbox::Sched::of(server.pid()));
        server.still_running()?;
        let used = sched0.zip(sched1).map(|(a, b)| b.since(a));
        let percent = |d: Duration| 100.0 * d.as_secs_f64() / window.as_secs_f64();
        rows.push(Idle {
            lab: lab.lab.id.clone(),
            program: server.name.clone(),
            cpu_percent: used.map(|u| percent(u.running)),
            asked_percent: used.map(|u| percent(u.running + u.waiting)),
            wakeups: used.map(|u| u.slices),
            window_s: window.as_secs_f64(),
        });
    }
    Ok(rows)
}

/// Section 3: `grader all --solutions` and each lab's, [`GRADING_RUNS`]
/// times each, with this grader's own executable.
fn grading_time(kit: &Kit, built: &[BuiltLab]) -> anyhow::Result<Vec<Grading>> {
    let exe = std::env::current_exe().context("finding the grader's own executable")?;
    let root = grade::absolute(kit.root.clone());
    let mut rows = Vec::new();
    let whats = std::iter::once("all".to_string()).chain(built.iter().map(|b| b.lab.id.clone()));
    for what in whats {
        let args = [
            what.clone(),
            "--solutions".into(),
            "--root".into(),
            root.display().to_string(),
        ];
        let command = format!("grader {}", args.join(" "));
        let mut runs = Vec::new();
        let mut passed = true;
        for run in 1..=GRADING_RUNS {
            progress(&format!("{command} (run {run} of {GRADING_RUNS})"));
            let (took, ok) = time_grader(&exe, &args)?;
            runs.push(took.as_secs_f64());
            passed &= ok;
        }
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        rows.push(Grading {
            what,
            command,
            median_s: sorted[sorted.len() / 2],
            runs_s: runs,
            passed,
        });
    }
    Ok(rows)
}

/// The name of the variable by which a grader knows it is its keeper's
/// worker (`sandbox::keeper`). A grader started from this one must not
/// inherit it: it would take itself for a worker whose keeper died.
const KEEPER_VARIABLE: &str = "GRADER_KEEPER";

/// Runs the grader `exe` with `args` to its end; its wall time, and
/// whether it exited with status 0.
fn time_grader(exe: &Path, args: &[String]) -> anyhow::Result<(Duration, bool)> {
    let started = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .env_remove(KEEPER_VARIABLE)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let mut child = KillOnDrop(child);
    let status = (child.0.wait()).with_context(|| format!("waiting for {}", exe.display()))?;
    Ok((started.elapsed(), status.success()))
}

/// A child process killed (and reaped) when dropped, on an error too.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Both fail harmlessly once it has been reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Machine {
    /// This machine, from `/proc`.
    fn this() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = (cpuinfo.lines())
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let memory_mib = (read("/proc/meminfo").lines())
            .find_map(|l| {
                let kib = l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?;
                kib.trim().parse::<u64>().ok()
            })
            .map_or(0, |kib| kib / 1024);
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            memory_mib,
            grader_build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        }
    }
}

/// A duration for people: `2 s`, `300 ms`, `41 µs`.
fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{} s", trim(s))
    } else if s >= 1e-3 {
        format!("{} ms", trim(s * 1e3))
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// A number with at most two decimals, without trailing zeros.
fn trim(x: f64) -> String {
    let t = format!("{x:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}
