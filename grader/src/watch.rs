//! `grader watch hw1`: grade a lab once, then again whenever one of its
//! files changes, so that a student sees the effect of each edit without
//! running the grader by hand.
//!
//! # Design
//!
//! ```text
//!  inotify ──▶ notify's thread ──channel──▶ gather: filter, debounce ──▶ grade::grade ──▶ screen
//!              (Event: kind, paths)         (one batch of changed files)  (the usual run)
//! ```
//!
//! - **What is watched** (`Places`): the graded crate's `src/` (its whole
//!   tree) and its `Cargo.toml`, the lab's `spec.yaml`, the hidden tests
//!   file, and any `--extra-spec` file; with `--bin-dir`, the directory's
//!   files. A single file is watched through its directory, filtered by
//!   name: an editor that saves by writing a new file and renaming it over
//!   the old one replaces the inode a watch on the file would hold.
//!   `target/` is never watched, since cargo writes thousands of files
//!   there on every build, and neither are editor temporaries (`.swp`,
//!   `~`, `.#*`, vim's `4913` probe) or Python's `__pycache__`.
//! - **One rerun per burst.** An editor saving several files, or `git
//!   checkout`, sends a burst of events. `gather` waits for the first
//!   change that counts, then until no change has come for [`QUIET`]
//!   (at most [`LONGEST_GATHER`], so that a file rewritten forever still
//!   gets graded), and returns the whole batch: one rerun.
//! - **A change during a run** waits in the channel. The run finishes (as
//!   every run does: its programs killed at the end of each test, the
//!   unprivileged user's processes swept), then the batch that came
//!   meanwhile is gathered like any other: one more run, not one per
//!   change. Grading is never abandoned halfway, so what cleans up after
//!   a run is the one that always does.
//! - **Ctrl+C** is the grader's own clean-up on signals
//!   ([`sandbox::install_cleanup`]): it kills every program and cargo,
//!   ends the confinement, and exits with status 130, as an interrupted
//!   `grader hw1` does. The keeper kills whatever is left if the grader
//!   itself is killed. Nothing here needs to know.
//! - **Each run is the usual one**: [`grade::grade`] with the same
//!   options, a fresh seed each time unless `--seed` fixes it. When the
//!   grader runs as root it grades a private copy, which each run makes
//!   anew ([`crate::confine::reopen`]); the files watched are always the
//!   originals.
//!
//! # The screen
//!
//! Each run puts a summary on top (`hw1 · 14/16 passed · 2 failed: loss,
//! stray-replies · 1.3 s · watching labs/hw1-udp-echo (Ctrl+C to stop)`),
//! the run's number and the files that changed under it, then the report
//! `grader hw1` prints. The summary is only known at the end, so the
//! report is caught as it is printed (`Capture`: the grader's standard
//! output goes into a pipe for the run). On a terminal the screen is
//! cleared, the report shows as it comes, and at the end the screen is
//! cleared again for the summary and the report. Into a pipe or a file,
//! where nothing can be cleared, each run starts with a separator line and
//! ends with the summary and the report.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use notify::{EventKind, RecursiveMode, Watcher};

use crate::grade::{self, Options, Replay};
use crate::kit::{Kit, Lab, Source};
use crate::report::human::Terminal;
use crate::report::text::{Line, Tone};
use crate::report::{Format, Results, TestStatus};

/// How long no change must come before a burst counts as over.
pub const QUIET: Duration = Duration::from_millis(200);

/// The longest a burst is gathered before the lab is graded anyway.
pub const LONGEST_GATHER: Duration = Duration::from_secs(2);

/// `grader watch hw1 [OPTIONS]`: what to watch and grade, and how; the
/// help text is the doc comment of `Command::Watch` in [`crate::cli`].
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The lab to watch (hw1 ... hw6).
    #[arg(value_name = "LAB")]
    lab: String,
    /// Watch and grade the reference solution instead of your crate in labs/.
    #[arg(long, conflicts_with = "bin_dir")]
    solutions: bool,
    /// Watch and grade prebuilt executables in DIR (any language).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Run only the test called NAME.
    #[arg(short = 't', long = "test", value_name = "NAME")]
    test: Option<String>,
    /// Seed of every run (default: a new one from the clock for each run).
    #[arg(long)]
    seed: Option<u64>,
    /// Run everything N times in each run, with seeds SEED, SEED+1, ...
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Tests run at the same time (default: two per CPU, up to ten per CPU while the CPUs are idle).
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) jobs: Option<u64>,
    /// Start no test after the first one that does not pass.
    #[arg(long)]
    fail_fast: bool,
    /// Add the tests of FILE to the lab (watched too); may be repeated.
    #[arg(long, value_name = "FILE")]
    extra_spec: Vec<PathBuf>,
    /// Under a failing test, print its timeline.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Write every run's sequence diagram, capture and ShiViz log in DIR/LAB/.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    /// Write the whole report as one page to FILE after each run.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Grades the lab `args` names, then again after each change to its
/// files, until a signal ends the grader (exit status 130, from the
/// clean-up on signals). `jobs` is the number of tests run at once;
/// `replay` how the report's replay lines name the grader.
///
/// # Errors
/// When the lab does not exist, `all` is asked for, its files cannot be
/// watched (no inotify, too many watches: the message says which limit),
/// the confinement cannot end after a run, or the watch stops.
pub fn run(
    kit: &Kit,
    args: WatchArgs,
    jobs: crate::pool::Jobs,
    replay: Replay,
) -> anyhow::Result<ExitCode> {
    if args.lab == "all" {
        anyhow::bail!(
            "watch one lab at a time (e.g. `grader watch hw1`); `all` grades every lab once"
        );
    }
    let lab = kit.lab(&args.lab)?;
    let source = match (args.solutions, args.bin_dir) {
        (_, Some(d)) => Source::BinDir(grade::absolute(d)),
        (true, None) => Source::Solution,
        (false, None) => Source::Skeleton,
    };
    let graded_dir = match &source {
        Source::Skeleton => &lab.lab_dir,
        Source::Solution => &lab.solution_dir,
        Source::BinDir(d) => d,
    };
    if !graded_dir.is_dir() {
        anyhow::bail!(
            "{} is not a directory: there is nothing to watch",
            kit.show(graded_dir)
        );
    }
    let watching = kit.show(graded_dir);
    let extra_specs: Vec<PathBuf> = args.extra_spec.into_iter().map(grade::absolute).collect();
    let places = Places::of(&lab, &source, &extra_specs);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher =
        notify::recommended_watcher(tx).context("starting to watch files (inotify(7))")?;
    for p in places.existing() {
        watcher.watch(&p.dir, p.mode()).with_context(|| {
            format!(
                "watching {} (on Linux, `sysctl fs.inotify.max_user_watches` and \
                 `max_user_instances` bound how much may be watched)",
                p.dir.display()
            )
        })?;
    }
    let screen = Screen {
        terminal: std::io::stdout().is_terminal(),
        watching,
    };
    let mut changed = Vec::new();
    for number in 1.. {
        let opts = Options {
            source: source.clone(),
            test: args.test.clone(),
            seed: args.seed.unwrap_or_else(handout::seed_from_clock),
            repeat: args.repeat,
            jobs,
            fail_fast: args.fail_fast,
            extra_specs: extra_specs.clone(),
            verbose: args.verbose,
            format: Format::Human,
            output: None,
            replay: replay.clone(),
            shrink: false,
            trace: args.trace.clone(),
            html: args.html.clone(),
        };
        let run = RunInfo {
            lab: &lab.id,
            number,
            changed: &changed,
        };
        screen.opening(&run);
        let started = Instant::now();
        let capture = Capture::start(screen.terminal)?;
        let graded = crate::confine::reopen()
            .and_then(|()| grade::grade(kit, std::slice::from_ref(&lab), &opts));
        // Also after a grader error: nothing of the graded user is left
        // running while the watch waits.
        let ended = crate::confine::end();
        let report = capture.finish()?;
        let top = summary(&run, &graded, started.elapsed(), &screen.watching_text());
        screen.closing(&run, &top, &report);
        ended?;
        let batch = gather(&rx, QUIET, LONGEST_GATHER, |p| places.counts(p))
            .context("the file watch stopped")?;
        for p in places.0.iter().filter(|p| p.scope == Scope::Tree) {
            if batch.contains(&p.dir) && p.dir.is_dir() {
                // The directory itself was made, removed or replaced (a
                // `git checkout`, a `mv`): watch the one there now.
                let _ = watcher.unwatch(&p.dir);
                if let Err(e) = watcher.watch(&p.dir, p.mode()) {
                    eprintln!("grader: cannot watch {} again: {e}", p.dir.display());
                }
            }
        }
        changed = shown(kit, &batch);
    }
    unreachable!("the runs are numbered without end")
}

/// One directory watched, and which of its files count.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    dir: PathBuf,
    scope: Scope,
}

/// Which files of a watched directory count as a change.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// Everything under it, at any depth, but `target/` and temporaries.
    Tree,
    /// Its own files (not what its subdirectories hold), but temporaries:
    /// a directory cargo built, whose subdirectories are cargo's.
    Top,
    /// Only the files of these names directly in it.
    Files(BTreeSet<OsString>),
}

impl Place {
    fn mode(&self) -> RecursiveMode {
        match self.scope {
            Scope::Tree => RecursiveMode::Recursive,
            Scope::Top | Scope::Files(_) => RecursiveMode::NonRecursive,
        }
    }

    /// Whether a change of `path` is one of this place's.
    fn counts(&self, path: &Path) -> bool {
        match &self.scope {
            Scope::Tree => {
                path == self.dir || path.strip_prefix(&self.dir).is_ok_and(|rel| !ignored(rel))
            }
            Scope::Top => {
                path.parent() == Some(&self.dir)
                    && !ignored(Path::new(path.file_name().unwrap_or_default()))
            }
            Scope::Files(names) => {
                path.parent() == Some(&self.dir)
                    && path.file_name().is_some_and(|n| names.contains(n))
            }
        }
    }
}

/// Every place the graded files of a lab are in.
#[derive(Debug, Default)]
struct Places(Vec<Place>);

impl Places {
    /// What to watch when grading `lab` from `source` with the extra tests
    /// `extra_specs`: the graded crate's `src/` and `Cargo.toml` (or the
    /// executables), the spec, the hidden tests, the extra tests, whether
    /// they exist or not (a handout has no `solutions/`, a crate may lack
    /// `src/` until it is made).
    fn of(lab: &Lab, source: &Source, extra_specs: &[PathBuf]) -> Places {
        let mut places = Places::default();
        let name = |p: &Path| p.file_name().map(OsString::from);
        match source {
            Source::Skeleton | Source::Solution => {
                let dir = if *source == Source::Skeleton {
                    &lab.lab_dir
                } else {
                    &lab.solution_dir
                };
                places.add(dir.join("src"), Scope::Tree);
                // `src` itself: removed or put back, it is watched anew.
                places.add_file(dir, "Cargo.toml".into());
                places.add_file(dir, "src".into());
            }
            Source::BinDir(d) => {
                // A directory cargo built: only its executables are the
                // programs (as when the grader copies them for another user).
                let scope = if d.join(".fingerprint").is_dir() {
                    Scope::Top
                } else {
                    Scope::Tree
                };
                places.add(d.clone(), scope);
            }
        }
        for file in [&lab.spec_path, &lab.hidden_path]
            .into_iter()
            .chain(extra_specs)
        {
            if let (Some(dir), Some(n)) = (file.parent(), name(file)) {
                places.add_file(dir, n);
            }
        }
        places
    }

    /// The places that exist: those that can be watched now.
    fn existing(&self) -> impl Iterator<Item = &Place> {
        self.0.iter().filter(|p| p.dir.is_dir())
    }

    fn add(&mut self, dir: PathBuf, scope: Scope) {
        match self.0.iter_mut().find(|p| p.dir == dir) {
            Some(p) => match (&mut p.scope, scope) {
                (Scope::Files(have), Scope::Files(more)) => have.extend(more),
                (Scope::Files(_), wider) => p.scope = wider,
                // A tree or a directory's files hold every name already.
                _ => {}
            },
            None => self.0.push(Place { dir, scope }),
        }
    }

    fn add_file(&mut self, dir: &Path, name: OsString) {
        self.add(dir.to_path_buf(), Scope::Files(BTreeSet::from([name])));
    }

    /// Whether a change of `path` is one to grade again for.
    fn counts(&self, path: &Path) -> bool {
        self.0.iter().any(|p| p.counts(path))
    }
}

/// Whether `rel` (a path relative to a watched directory) is under
/// `target/` (cargo's), or is an editor's or Python's temporary file,
/// which change on their own while someone edits or a program runs.
fn ignored(rel: &Path) -> bool {
    let component = |c: std::path::Component| {
        let c = c.as_os_str().to_string_lossy();
        c == "target" || c == "__pycache__" || c == ".git"
    };
    if rel.components().any(component) {
        return true;
    }
    let Some(name) = rel.file_name().map(|n| n.to_string_lossy()) else {
        return false;
    };
    let temporary = [".swp", ".swo", ".swx", ".pyc", "~"];
    temporary.iter().any(|t| name.ends_with(t))
        // Emacs: `.#main.rs` (a lock) and `#main.rs#` (an autosave).
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        // Vim writes `4913` to learn whether it may create files there.
        || name == "4913"
}

/// Waits for the next change that `counts`, then until none has come for
/// `quiet` (or `longest` has passed since the first), and returns every
/// path that counted. Events that came while the lab was graded are in the
/// channel already: they make one batch too. Reading and opening a file
/// is not a change; a queue that overflowed counts as a change of every
/// place (`PathBuf::new()` in the batch).
///
/// # Errors
/// When the channel closes: the watcher is gone.
fn gather(
    rx: &Receiver<notify::Result<notify::Event>>,
    quiet: Duration,
    longest: Duration,
    counts: impl Fn(&Path) -> bool,
) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut batch = BTreeSet::new();
    let mut first: Option<Instant> = None;
    loop {
        let got = match first {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => {
                let left = (t + longest).saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(batch);
                }
                rx.recv_timeout(quiet.min(left))
            }
        };
        let event = match got {
            Ok(Ok(event)) => event,
            Ok(Err(e)) => {
                eprintln!("grader: the file watch reported: {e}");
                continue;
            }
            Err(RecvTimeoutError::Timeout) => return Ok(batch),
            Err(RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the watcher's channel closed")
            }
        };
        let before = batch.len();
        if event.need_rescan() {
            batch.insert(PathBuf::new());
        } else if !matches!(event.kind, EventKind::Access(_)) {
            batch.extend(event.paths.into_iter().filter(|p| counts(p)));
        }
        if batch.len() > before && first.is_none() {
            first = Some(Instant::now());
        }
    }
}

/// The changed paths of a batch, for people: relative to the kit when in
/// it.
fn shown(kit: &Kit, batch: &BTreeSet<PathBuf>) -> Vec<String> {
    batch
        .iter()
        .map(|p| {
            if p.as_os_str().is_empty() {
                "(too many changes at once to list)".to_string()
            } else {
                kit.show(p)
            }
        })
        .collect()
}

/// What the screen says about one run.
struct RunInfo<'a> {
    /// `hw1`.
    lab: &'a str,
    /// From 1.
    number: u64,
    /// The files whose change started it (none for the first).
    changed: &'a [String],
}

impl RunInfo<'_> {
    /// `run 3 · changed: src/client.rs, src/server.rs`.
    fn describe(&self) -> String {
        const SHOWN: usize = 5;
        let mut s = format!("run {}", self.number);
        if !self.changed.is_empty() {
            s.push_str(" · changed: ");
            s.push_str(
                &self
                    .changed
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if self.changed.len() > SHOWN {
                s.push_str(&format!(" and {} more", self.changed.len() - SHOWN));
            }
        }
        s
    }
}

/// Clears a terminal and its scrollback, and puts the cursor at the top
/// left (the ANSI sequences `clear` sends).
const CLEAR: &str = "\x1b[H\x1b[2J\x1b[3J";

/// The width of the separator line between runs, into a pipe.
const SEPARATOR: usize = 72;

/// Where the runs are shown.
struct Screen {
    /// Standard output is a terminal: clear it for each run.
    terminal: bool,
    /// What is graded, for the summary: `labs/hw1-udp-echo`.
    watching: String,
}

impl Screen {
    /// The start of a run: on a terminal, a clear screen that says a run
    /// is under way; into a pipe, a separator line with the run's number
    /// and what changed.
    fn opening(&self, run: &RunInfo) {
        self.print(&self.opening_lines(run));
    }

    fn opening_lines(&self, run: &RunInfo) -> Vec<Line> {
        if self.terminal {
            vec![
                Line {
                    indent: 0,
                    parts: vec![
                        (Tone::Strong, run.lab.to_string()),
                        (Tone::Plain, " · running · ".into()),
                        (Tone::Dim, self.watching_text()),
                    ],
                },
                Line::new(0, Tone::Dim, run.describe()),
                Line::new(0, Tone::Plain, ""),
            ]
        } else {
            vec![Line::new(0, Tone::Dim, separator(&run.describe()))]
        }
    }

    /// The end of a run: the summary on top, then the report.
    fn closing(&self, run: &RunInfo, summary: &[Line], report: &[u8]) {
        let mut lines = summary.to_vec();
        if self.terminal {
            lines.insert(1, Line::new(0, Tone::Dim, run.describe()));
        }
        lines.push(Line::new(0, Tone::Plain, ""));
        self.print(&lines);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(report);
        let _ = out.flush();
    }

    /// `watching labs/hw1-udp-echo (Ctrl+C to stop)`.
    fn watching_text(&self) -> String {
        format!("watching {} (Ctrl+C to stop)", self.watching)
    }

    /// What comes before each frame: on a terminal, [`CLEAR`].
    fn clear(&self) -> &'static str {
        if self.terminal { CLEAR } else { "" }
    }

    /// A frame: the screen cleared (on a terminal), then `lines`.
    fn print(&self, lines: &[Line]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.clear().as_bytes());
        let _ = out.flush();
        drop(out);
        Terminal { to_stderr: false }.print(lines);
    }
}

/// `── run 3 · changed: src/main.rs ─────...`, `SEPARATOR` wide.
fn separator(text: &str) -> String {
    let head = format!("── {text} ");
    let pad = SEPARATOR.saturating_sub(head.chars().count()).max(2);
    format!("{head}{}", "─".repeat(pad))
}

/// The summary on top of a run: `hw1 · 14/16 passed · 2 failed: loss,
/// stray-replies · 1.3 s · watching labs/hw1-udp-echo (Ctrl+C to stop)`,
/// or the grader's error under `hw1 · the grader could not run`.
fn summary(
    run: &RunInfo,
    graded: &anyhow::Result<Results>,
    took: Duration,
    watching: &str,
) -> Vec<Line> {
    const NAMED: usize = 5;
    let dot = || (Tone::Plain, " · ".to_string());
    let mut parts = vec![(Tone::Strong, run.lab.to_string()), dot()];
    let mut below = Vec::new();
    match graded {
        Ok(results) => {
            for lab in &results.labs {
                let named = |status: TestStatus| {
                    let names: Vec<&str> = (lab.tests.iter())
                        .filter(|t| t.status() == status)
                        .map(|t| t.spec.name.as_str())
                        .collect();
                    let mut s = names
                        .iter()
                        .take(NAMED)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ");
                    if names.len() > NAMED {
                        s.push_str(&format!(" and {} more", names.len() - NAMED));
                    }
                    s
                };
                let t = lab.tally();
                if lab.build_error.is_some() {
                    parts.extend([(Tone::Bad, "does not build".to_string()), dot()]);
                }
                let all = t.passed == lab.tests.len();
                parts.push((
                    if all { Tone::Good } else { Tone::Plain },
                    format!("{}/{} passed", t.passed, lab.tests.len()),
                ));
                if t.failed > 0 && lab.build_error.is_none() {
                    parts.extend([
                        dot(),
                        (
                            Tone::Bad,
                            format!("{} failed: {}", t.failed, named(TestStatus::Failed)),
                        ),
                    ]);
                }
                if t.void > 0 {
                    parts.extend([
                        dot(),
                        (
                            Tone::Warn,
                            format!("{} void: {}", t.void, named(TestStatus::Void)),
                        ),
                    ]);
                }
                if t.not_run > 0 {
                    parts.extend([dot(), (Tone::Warn, format!("{} not run", t.not_run))]);
                }
            }
        }
        Err(e) => {
            parts.push((Tone::Bad, "the grader could not run".to_string()));
            below.extend(
                format!("grader: {e:#}")
                    .lines()
                    .map(|l| Line::new(0, Tone::Plain, l)),
            );
        }
    }
    parts.extend([
        dot(),
        (Tone::Dim, format!("{:.1} s", took.as_secs_f64())),
        dot(),
        (Tone::Dim, watching.to_string()),
    ]);
    let mut lines = vec![Line { indent: 0, parts }];
    lines.extend(below);
    lines
}

/// The grader's standard output, caught for one run: the descriptor is
/// pointed at a pipe (`dup2(2)`), and a thread reads the pipe, keeps what
/// it reads, and (on a terminal) shows it as it comes. Programs never
/// write there: the sandbox gives each program, and cargo, pipes of their
/// own, and the pipe is closed on `exec`.
struct Capture {
    /// The real standard output, put back at the end.
    saved: OwnedFd,
    /// The reader; it returns what it read.
    reader: JoinHandle<Vec<u8>>,
}

impl Capture {
    /// Points standard output at a new pipe; `echo`: also show the output
    /// on the real standard output as it comes.
    ///
    /// # Errors
    /// When the pipe, the descriptors or the thread cannot be made.
    fn start(echo: bool) -> anyhow::Result<Capture> {
        let _ = std::io::stdout().lock().flush();
        let saved = nix::unistd::dup(std::io::stdout()).context("duplicating standard output")?;
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .context("making a pipe for the report")?;
        let mut echo_to = if echo {
            Some(File::from(
                nix::unistd::dup(&saved).context("duplicating standard output")?,
            ))
        } else {
            None
        };
        let reader = std::thread::Builder::new()
            .name("watch-report".into())
            .spawn(move || {
                let mut all = Vec::new();
                let mut from = File::from(read);
                let mut buf = [0u8; 8192];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    all.extend_from_slice(&buf[..n]);
                    if let Some(to) = echo_to.as_mut() {
                        let _ = to.write_all(&buf[..n]);
                    }
                }
                all
            })
            .context("starting the thread that reads the report")?;
        nix::unistd::dup2_stdout(&write)
            .context("pointing standard output at the report's pipe")?;
        Ok(Capture { saved, reader })
    }

    /// Puts standard output back, which closes the pipe's last writing
    /// end; returns everything the run printed there.
    ///
    /// # Errors
    /// When standard output cannot be put back.
    fn finish(self) -> anyhow::Result<Vec<u8>> {
        let _ = std::io::stdout().lock().flush();
        nix::unistd::dup2_stdout(&self.saved).context("putting standard output back")?;
        Ok(self.reader.join().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use notify::event::{AccessKind, CreateKind, DataChange, Flag, ModifyKind};
    use notify::{Event, EventKind};

    use super::*;
    use crate::report::{LabResult, TestResult};
    use crate::spec::LabSpec;

    fn lab(root: &Path) -> Lab {
        Lab {
            id: "hw1".into(),
            lab_dir: root.join("labs/hw1-udp-echo"),
            solution_dir: root.join("solutions/hw1-udp-echo"),
            spec_path: root.join("labs/hw1-udp-echo/spec.yaml"),
            hidden_path: root.join("solutions/hw1-udp-echo/hidden.yaml"),
        }
    }

    /// The kit the grader was built from: its directories exist.
    fn kit_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn editor_temporaries_and_cargos_target_are_ignored() {
        for name in [
            "target/debug/server",
            "sub/target/x",
            ".main.rs.swp",
            ".main.rs.swx",
            "main.rs~",
            ".#main.rs",
            "#main.rs#",
            "4913",
            "__pycache__/hw1kit.cpython-311.pyc",
            "hw1kit.pyc",
        ] {
            assert!(ignored(Path::new(name)), "{name} counted as a change");
        }
        for name in [
            "main.rs",
            "bin/server.rs",
            "server",
            "targets.rs",
            "4913.rs",
        ] {
            assert!(!ignored(Path::new(name)), "{name} was ignored");
        }
    }

    #[test]
    fn a_crate_is_watched_in_its_src_cargo_toml_spec_and_hidden_tests() {
        let root = kit_root();
        let lab = lab(&root);
        let places = Places::of(&lab, &Source::Skeleton, &[]);
        let crate_dir = &lab.lab_dir;
        for p in [
            crate_dir.join("src/client.rs"),
            crate_dir.join("src/bin/server.rs"),
            crate_dir.join("src"),
            crate_dir.join("Cargo.toml"),
            crate_dir.join("spec.yaml"),
            lab.hidden_path.clone(),
        ] {
            assert!(places.counts(&p), "{} is not watched", p.display());
        }
        for p in [
            crate_dir.join("Cargo.lock"),
            crate_dir.join("target/debug/server"),
            crate_dir.join("src/.client.rs.swp"),
            crate_dir.join("requirements.yaml"),
            lab.solution_dir.join("src/client.rs"),
            lab.solution_dir.join("Cargo.toml"),
        ] {
            assert!(!places.counts(&p), "{} is watched", p.display());
        }
        let places = Places::of(&lab, &Source::Solution, &[]);
        assert!(places.counts(&lab.solution_dir.join("src/client.rs")));
        assert!(places.counts(&lab.solution_dir.join("Cargo.toml")));
        assert!(places.counts(&lab.spec_path));
        assert!(!places.counts(&lab.lab_dir.join("src/client.rs")));
        let tree = places.0.iter().find(|p| p.scope == Scope::Tree);
        assert_eq!(
            tree.map(|p| p.dir.clone()),
            Some(lab.solution_dir.join("src"))
        );
    }

    #[test]
    fn a_bin_dir_is_watched_whole_unless_cargo_built_it() {
        let root = kit_root();
        let lab = lab(&root);
        let python = root.join("solutions/hw1-python");
        let places = Places::of(&lab, &Source::BinDir(python.clone()), &[]);
        assert!(places.counts(&python.join("server")));
        assert!(places.counts(&python.join("lib/helper.py")));
        assert!(places.counts(&lab.spec_path));
        assert!(!places.counts(&python.join("target/x")));
        // A directory cargo built: its executables, not its deps/ or build/.
        let built = std::env::temp_dir().join(format!("watch-built-{}", std::process::id()));
        std::fs::create_dir_all(built.join(".fingerprint")).unwrap();
        let places = Places::of(&lab, &Source::BinDir(built.clone()), &[]);
        assert!(places.counts(&built.join("server")));
        assert!(!places.counts(&built.join("deps/server-1234")));
        assert!(!places.counts(&built.join("server~")));
        std::fs::remove_dir_all(&built).unwrap();
    }

    #[test]
    fn an_extra_spec_is_watched_and_absent_places_are_not_yet() {
        let root = kit_root();
        let mut lab = lab(&root);
        lab.hidden_path = root.join("no-such-dir/hidden.yaml");
        let extra = root.join("specs/extra.yaml");
        let places = Places::of(&lab, &Source::Skeleton, std::slice::from_ref(&extra));
        assert!(places.counts(&extra));
        assert!(!places.counts(&root.join("specs/hw1.md")));
        let existing: Vec<&Path> = places.existing().map(|p| p.dir.as_path()).collect();
        assert!(!existing.contains(&root.join("no-such-dir").as_path()));
        assert!(existing.contains(&root.join("specs").as_path()));
    }

    fn modified(path: &str) -> notify::Result<Event> {
        Ok(
            Event::new(EventKind::Modify(ModifyKind::Data(DataChange::Content)))
                .add_path(path.into()),
        )
    }

    #[test]
    fn a_burst_of_changes_is_one_batch() {
        let (tx, rx) = mpsc::channel();
        for _ in 0..5 {
            tx.send(modified("/lab/src/main.rs")).unwrap();
        }
        tx.send(Ok(
            Event::new(EventKind::Create(CreateKind::File)).add_path("/lab/src/net.rs".into())
        ))
        .unwrap();
        tx.send(modified("/lab/target/debug/server")).unwrap();
        let batch = gather(&rx, Duration::from_millis(20), LONGEST_GATHER, |p| {
            !ignored(p)
        })
        .unwrap();
        let expected: BTreeSet<PathBuf> = ["/lab/src/main.rs", "/lab/src/net.rs"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(batch, expected);
        assert!(
            rx.try_recv().is_err(),
            "a change was left for another batch"
        );
    }

    #[test]
    fn reading_a_file_is_not_a_change() {
        let (tx, rx) = mpsc::channel();
        let read =
            Event::new(EventKind::Access(AccessKind::Any)).add_path("/lab/src/main.rs".into());
        tx.send(Ok(read)).unwrap();
        tx.send(modified("/lab/src/main.rs~")).unwrap();
        drop(tx);
        // Nothing counted, so gather waits on: here the channel closes.
        assert!(gather(&rx, QUIET, LONGEST_GATHER, |p| !ignored(p)).is_err());
    }

    #[test]
    fn changes_that_never_stop_are_graded_after_the_longest_gather() {
        // A bounded channel: the writer waits while the reader is behind.
        let (tx, rx) = mpsc::sync_channel(16);
        let writer = std::thread::spawn(
            move || {
                while tx.send(modified("/lab/src/main.rs")).is_ok() {}
            },
        );
        let t = Instant::now();
        let quiet = Duration::from_secs(3600);
        let batch = gather(&rx, quiet, Duration::from_millis(50), |p| !ignored(p)).unwrap();
        assert_eq!(batch.len(), 1);
        // Long before the quiet window: the longest gather ended it.
        assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
        drop(rx);
        writer.join().unwrap();
    }

    #[test]
    fn an_overflowing_queue_is_a_change() {
        let (tx, rx) = mpsc::channel();
        tx.send(Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan)))
            .unwrap();
        let batch = gather(&rx, Duration::from_millis(10), LONGEST_GATHER, |_| false).unwrap();
        assert_eq!(batch, BTreeSet::from([PathBuf::new()]));
    }

    fn info(changed: &[String]) -> RunInfo<'_> {
        RunInfo {
            lab: "hw1",
            number: 3,
            changed,
        }
    }

    #[test]
    fn a_run_says_what_changed_at_most_five_files() {
        assert_eq!(info(&[]).describe(), "run 3");
        let two = ["src/a.rs".to_string(), "src/b.rs".to_string()];
        assert_eq!(info(&two).describe(), "run 3 · changed: src/a.rs, src/b.rs");
        let seven: Vec<String> = (1..=7).map(|i| format!("f{i}")).collect();
        assert_eq!(
            info(&seven).describe(),
            "run 3 · changed: f1, f2, f3, f4, f5 and 2 more"
        );
    }

    #[test]
    fn a_terminal_is_cleared_and_a_pipe_gets_a_separator() {
        let screen = |terminal| Screen {
            terminal,
            watching: "labs/hw1-udp-echo".into(),
        };
        let pipe = screen(false);
        assert_eq!(pipe.clear(), "");
        let lines: Vec<String> = pipe
            .opening_lines(&info(&[]))
            .iter()
            .map(Line::plain)
            .collect();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("── run 3 ───"), "{lines:?}");
        assert_eq!(lines[0].chars().count(), SEPARATOR);
        let terminal = screen(true);
        assert_eq!(terminal.clear(), CLEAR);
        let lines: Vec<String> = terminal
            .opening_lines(&info(&[]))
            .iter()
            .map(Line::plain)
            .collect();
        assert_eq!(
            lines,
            [
                "hw1 · running · watching labs/hw1-udp-echo (Ctrl+C to stop)",
                "run 3",
                ""
            ]
        );
    }

    /// hw1's tests, none of them run: each counts as failed, or as not
    /// run for `not_run`.
    fn results(build_error: Option<String>, not_run: u64) -> Results {
        let spec = LabSpec::load(&kit_root().join("labs/hw1-udp-echo/spec.yaml")).unwrap();
        Results {
            seed: 1,
            repeat: 1,
            source: Source::Skeleton,
            duration: Duration::ZERO,
            labs: vec![LabResult {
                id: "hw1".into(),
                title: spec.title.clone(),
                graded: "labs/hw1-udp-echo".into(),
                build_error,
                tests: (spec.tests.iter())
                    .map(|t| TestResult {
                        spec: t.clone(),
                        runs: Vec::new(),
                        not_run,
                    })
                    .collect(),
            }],
        }
    }

    fn summary_text(graded: &anyhow::Result<Results>) -> Vec<String> {
        let w = "watching labs/hw1-udp-echo (Ctrl+C to stop)";
        summary(&info(&[]), graded, Duration::from_millis(1340), w)
            .iter()
            .map(Line::plain)
            .collect()
    }

    #[test]
    fn the_summary_names_the_failed_tests_and_the_time() {
        let r = results(None, 0);
        let n = r.labs[0].tests.len();
        let first: Vec<String> = r.labs[0]
            .tests
            .iter()
            .take(5)
            .map(|t| t.spec.name.clone())
            .collect();
        assert_eq!(
            summary_text(&Ok(r)),
            [format!(
                "hw1 · 0/{n} passed · {n} failed: {} and {} more · 1.3 s · watching labs/hw1-udp-echo (Ctrl+C to stop)",
                first.join(", "),
                n - 5
            )]
        );
        let r = results(Some("error[E0308]: mismatched types".into()), 0);
        assert_eq!(
            summary_text(&Ok(r)),
            [format!(
                "hw1 · does not build · 0/{n} passed · 1.3 s · watching labs/hw1-udp-echo (Ctrl+C to stop)"
            )]
        );
        assert_eq!(
            summary_text(&Ok(results(None, 1))),
            [format!(
                "hw1 · 0/{n} passed · {n} not run · 1.3 s · watching labs/hw1-udp-echo (Ctrl+C to stop)"
            )]
        );
    }

    #[test]
    fn a_grader_error_is_shown_under_the_summary() {
        let e = anyhow::anyhow!("lab hw1 has no test `lost` (its tests: echo)");
        assert_eq!(
            summary_text(&Err(e.context("grading hw1"))),
            [
                "hw1 · the grader could not run · 1.3 s · watching labs/hw1-udp-echo (Ctrl+C to stop)",
                "grader: grading hw1: lab hw1 has no test `lost` (its tests: echo)",
            ]
        );
    }
}
