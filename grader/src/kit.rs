//! The kit on disk: where the labs, solutions and specs are, and building
//! a lab's executables (or finding them in `--bin-dir`).
//!
//! This module sits under the grader's stages and uses none of them: it
//! knows directories, cargo and executables, not specs or tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where each of a lab's executables is, by name.
pub type Programs = BTreeMap<String, PathBuf>;

/// The kit's root directory: it holds `labs/` and `solutions/`.
#[derive(Debug, Clone)]
pub struct Kit {
    /// The root.
    pub root: PathBuf,
}

/// One lab: its student crate, its reference solution, its spec.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The id typed on the command line: `hw1`.
    pub id: String,
    /// The student's crate: `labs/hw1-udp-echo`.
    pub lab_dir: PathBuf,
    /// The reference solution: `solutions/hw1-udp-echo` (may be absent in a handout).
    pub solution_dir: PathBuf,
    /// `labs/hw1-udp-echo/spec.yaml`.
    pub spec_path: PathBuf,
    /// `solutions/hw1-udp-echo/hidden.yaml`: the lab's hidden tests, which
    /// the grader adds to the spec's whenever the file exists. It lives
    /// beside the reference solution because `solutions/` is never handed out.
    pub hidden_path: PathBuf,
}

/// Which programs a run grades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The student's crate in `labs/`.
    Skeleton,
    /// The reference solution in `solutions/`.
    Solution,
    /// Prebuilt executables in a directory.
    BinDir(PathBuf),
}

impl Source {
    /// `skeleton`, `solution` or `bin-dir`, as the machine formats write it.
    pub fn name(&self) -> &'static str {
        match self {
            Source::Skeleton => "skeleton",
            Source::Solution => "solution",
            Source::BinDir(_) => "bin-dir",
        }
    }

    /// The option that selects it on the command line, with a leading
    /// space (none for the student's crate, the default).
    pub fn flag(&self) -> String {
        match self {
            Source::Skeleton => String::new(),
            Source::Solution => " --solutions".into(),
            Source::BinDir(d) => format!(" --bin-dir {}", d.display()),
        }
    }

    /// What is graded, for people: `labs/hw1-udp-echo`.
    pub fn describe(&self, kit: &Kit, lab: &Lab) -> String {
        match self {
            Source::Skeleton => kit.show(&lab.lab_dir),
            Source::Solution => format!("{} (reference solution)", kit.show(&lab.solution_dir)),
            Source::BinDir(d) => format!("executables in {}", d.display()),
        }
    }
}

impl Kit {
    /// The cargo build directory every solution crate shares, so that
    /// their dependencies compile once: `target/labs/build/`.
    pub fn labs_build_dir(&self) -> PathBuf {
        self.root.join("target").join("labs").join("build")
    }

    /// The cargo build directory of the crate in `dir`: the students'
    /// crates under `labs/` share `target/labs/build-labs/`, every other
    /// crate (the solutions) [`Kit::labs_build_dir`]. A skeleton and its
    /// solution have the same package name at the same place in their
    /// workspaces, and cargo keys what it builds by those: in one build
    /// directory each build of one would undo the other's.
    pub fn build_dir_of(&self, dir: &Path) -> PathBuf {
        if dir.starts_with(self.root.join("labs")) {
            self.root.join("target").join("labs").join("build-labs")
        } else {
            self.labs_build_dir()
        }
    }

    /// The cargo build directory of the mutants `grader check` builds,
    /// shared by every lab's: `target/labs/mutants-build/`. Not
    /// [`Kit::labs_build_dir`]: a mutant is a copy of its solution, under
    /// the same package name at the same place in its workspace, and cargo
    /// keys what it builds by those, so the two would overwrite each other.
    pub fn mutants_build_dir(&self) -> PathBuf {
        self.root.join("target").join("labs").join("mutants-build")
    }

    /// The target directory of the crate in `dir`, where its executables
    /// go: `target/labs/labs-hw1-udp-echo/` for `labs/hw1-udp-echo` (its
    /// path below the kit, `/` as `-`).
    pub fn own_target(&self, dir: &Path) -> PathBuf {
        let below = dir.strip_prefix(&self.root).unwrap_or(dir);
        let name: Vec<String> = (below.components())
            .filter_map(|c| match c {
                std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        self.root.join("target").join("labs").join(name.join("-"))
    }

    /// Where the grader keeps what it draws and shrinks for this kit:
    /// `target/grader/`, beside what cargo builds, which no one commits.
    pub fn output_dir(&self) -> PathBuf {
        self.root.join("target").join("grader")
    }

    /// The kit at `root`, or the one containing the current directory, or
    /// the one this grader was built from.
    ///
    /// # Errors
    /// When none of those holds a `labs/` directory.
    pub fn find(root: Option<&Path>) -> anyhow::Result<Kit> {
        let is_kit = |d: &Path| d.join("labs").is_dir();
        if let Some(r) = root {
            if is_kit(r) {
                return Ok(Kit {
                    root: r.to_path_buf(),
                });
            }
            bail!("{} is not a kit: it has no labs/ directory", r.display());
        }
        let cwd = std::env::current_dir().context("reading the current directory")?;
        if let Some(d) = cwd.ancestors().find(|d| is_kit(d)) {
            return Ok(Kit {
                root: d.to_path_buf(),
            });
        }
        let built = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf);
        match built {
            Some(d) if is_kit(&d) => Ok(Kit { root: d }),
            _ => bail!("cannot find the kit: run the grader inside it, or pass --root DIR"),
        }
    }

    /// Every lab with a `spec.yaml`, in order (hw1, hw2, ...).
    ///
    /// # Errors
    /// When `labs/` cannot be read.
    pub fn labs(&self) -> anyhow::Result<Vec<Lab>> {
        let dir = self.root.join("labs");
        let mut labs = Vec::new();
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            let Some((id, _)) = name.split_once('-') else {
                continue;
            };
            if !id.starts_with("hw") || !e.path().join("spec.yaml").is_file() {
                continue;
            }
            let solution_dir = self.root.join("solutions").join(&name);
            labs.push(Lab {
                id: id.to_string(),
                lab_dir: e.path(),
                hidden_path: solution_dir.join("hidden.yaml"),
                solution_dir,
                spec_path: e.path().join("spec.yaml"),
            });
        }
        labs.sort_by_key(|l| {
            (
                l.id.trim_start_matches("hw")
                    .parse::<u32>()
                    .unwrap_or(u32::MAX),
                l.id.clone(),
            )
        });
        Ok(labs)
    }

    /// The lab called `id`.
    ///
    /// # Errors
    /// When there is no such lab; the message lists the labs there are.
    pub fn lab(&self, id: &str) -> anyhow::Result<Lab> {
        let labs = self.labs()?;
        if let Some(l) = labs.iter().find(|l| l.id == id) {
            return Ok(l.clone());
        }
        let ids: Vec<&str> = labs.iter().map(|l| l.id.as_str()).collect();
        bail!(
            "there is no lab `{id}` (labs: {}; or `all`)",
            ids.join(", ")
        )
    }

    /// A path relative to the kit's root, for messages.
    pub fn show(&self, p: &Path) -> String {
        p.strip_prefix(&self.root)
            .unwrap_or(p)
            .display()
            .to_string()
    }
}

/// Why a lab's programs are not available.
#[derive(Debug)]
pub enum BuildError {
    /// The crate does not compile: the compiler's output. A build that
    /// took longer than its limit is one too, its first line saying so.
    Compile(String),
    /// Something else: a missing binary, no cargo.
    Other(anyhow::Error),
}

/// How to build a crate of the kit.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Whether cargo may colour its messages.
    pub color: bool,
    /// How long `cargo build` may take (the spec's `limits.build`).
    pub limit: Duration,
}

/// The executables named `binaries` of lab `lab` from `source`, building
/// the crate if needed.
///
/// # Errors
/// [`BuildError::Compile`] with the compiler's messages when the crate does
/// not build, or took longer than the limit; [`BuildError::Other`] when an
/// executable is missing.
pub fn programs(
    kit: &Kit,
    lab: &Lab,
    binaries: &[String],
    source: &Source,
    how: BuildOptions,
) -> Result<Programs, BuildError> {
    // The student's crate is built by the unprivileged user when the
    // grader confines what it grades; the reference solution is the
    // instructor's, built by the grader itself.
    let dir = match source {
        Source::BinDir(d) => d.clone(),
        Source::Skeleton => build(kit, &lab.lab_dir, how, false)?,
        Source::Solution => build(kit, &lab.solution_dir, how, true)?,
    };
    for b in binaries {
        let p = dir.join(b);
        if !p.is_file() {
            return Err(BuildError::Other(anyhow::anyhow!(
                "{} is missing: lab {} needs the executables {}",
                p.display(),
                lab.id,
                binaries.join(", ")
            )));
        }
    }
    // Executables the user did not build itself are copied where it can
    // run them: the kit is out of its reach.
    let dir = match crate::confine::current().filter(|c| c.user().is_some()) {
        Some(c) if *source != Source::Skeleton => {
            let only = (*source == Source::Solution).then_some(binaries);
            c.stage_programs(&dir, only).map_err(|e| {
                BuildError::Other(anyhow::anyhow!(
                    "copying the executables of {} for the unprivileged user: {e}",
                    dir.display()
                ))
            })?
        }
        _ => dir,
    };
    let mut out = Programs::new();
    for b in binaries {
        let p = std::fs::canonicalize(dir.join(b)).map_err(|e| BuildError::Other(e.into()))?;
        out.insert(b.clone(), p);
    }
    Ok(out)
}

/// The cargo the grader was started by, or the one on the PATH.
pub fn cargo() -> Command {
    Command::new(cargo_program())
}

/// Builds the crate in `dir`; returns where its executables `binaries`
/// are.
///
/// The solutions share one cargo *build directory* (`build.build-dir`),
/// `target/labs/build/`, and the students' crates another,
/// `target/labs/build-labs/` ([`Kit::build_dir_of`]): the dependencies
/// they share (nix, clap, the handout) compile once, not once per lab. Each crate has a target directory of its own
/// for its executables (`target/labs/solutions-hw1-udp-echo/debug/`,
/// [`Kit::own_target`]), so the programs every lab names alike (`server`,
/// `client`) never overwrite each other, and two graders building two
/// labs at once only wait for cargo's lock. The crate itself is built as
/// it is (its own `Cargo.toml` and `Cargo.lock`).
///
/// When the grader confines what it grades ([`crate::confine`]) and the
/// crate is not `trusted` (the reference solution is), the crate built is
/// a copy of `dir` in the private directory, built by the unprivileged
/// user into the copy's own `target/`, whose build directory starts as a
/// copy of the kit's (the dependencies already built).
///
/// Cargo's progress (`Compiling nix v0.31.3`, `Downloading ...`) goes to
/// stderr as it comes, so that a first build, which fetches and compiles
/// every dependency, is visibly at work; its diagnostics are kept for the
/// report when the build fails.
///
/// Cargo runs in the [sandbox], as a program does: every process it
/// starts (compilers, build scripts and what they start, even in the
/// background) is killed when it ends. Past `how.limit` all of it is
/// killed (a build script or a procedural macro of the graded crate may
/// never end), and the build fails with a message that says so.
fn build(kit: &Kit, dir: &Path, how: BuildOptions, trusted: bool) -> Result<PathBuf, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::Other(anyhow::anyhow!(
            "{} has no Cargo.toml",
            kit.show(dir)
        )));
    }
    eprintln!("grader: building {}", kit.show(dir));
    let confined = (crate::confine::current())
        .filter(|c| c.user().is_some())
        .filter(|_| !trusted);
    let (crate_dir, env) = match confined {
        Some(c) => {
            // The students' builds, or else the solutions': the same
            // dependencies, built once.
            let seed = [kit.build_dir_of(dir), kit.labs_build_dir()]
                .into_iter()
                .map(|d| d.join("debug"))
                .find(|d| d.is_dir())
                .unwrap_or_default();
            let copy = c.stage_crate(dir, &seed).map_err(|e| {
                BuildError::Other(anyhow::anyhow!(
                    "copying {} for the unprivileged user: {e}",
                    kit.show(dir)
                ))
            })?;
            let mut env = c.env();
            env.extend(toolchain_for_others().map_err(BuildError::Other)?);
            (copy, env)
        }
        None => (dir.to_path_buf(), Vec::new()),
    };
    // Intermediate artifacts (dependencies, fingerprints) go to the kit's
    // shared build directory, or to the copy's own seeded one; the
    // crate's executables to a target directory of its own.
    let (target, build_dir) = match confined {
        Some(_) => (
            crate_dir.join("target"),
            crate_dir.join("target").join("build"),
        ),
        None => (kit.own_target(dir), kit.build_dir_of(dir)),
    };
    let args: Vec<String> = [
        "build",
        "--color",
        if how.color { "always" } else { "never" },
        "--manifest-path",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([crate_dir.join("Cargo.toml").display().to_string()])
    .chain(["--target-dir".to_string(), target.display().to_string()])
    .chain(build_dir_config(Some(&build_dir)))
    .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let log = Arc::new(BuildLog::default());
    let cargo = cargo_program();
    // The unprivileged user cannot write the grader's cargo cache: it
    // builds with the crates already there (setup.sh fetched the lab's),
    // and cargo says so plainly when one is missing. Its build scripts and
    // macros see no network, where tests get networks of their own.
    let mut args = args;
    let mut network = None;
    if let Some(c) = confined {
        args.push("--offline".into());
        if c.own_network() {
            network = Some(sandbox::net::Loopback::enter().map_err(|e| {
                BuildError::Other(anyhow::anyhow!("making the build's network namespace: {e}"))
            })?);
        }
    }
    let spawned = sandbox::Program::spawn(
        &sandbox::Launch {
            program: Path::new(&cargo),
            args: &args,
            env: &env,
            limits: &build_limits(how.limit),
            user: confined.and_then(|c| c.user()),
            dir: confined.map(|_| crate_dir.as_path()),
        },
        Arc::clone(&log) as Arc<dyn sandbox::Observer>,
    );
    // Cargo and all it starts stay in the namespace; this thread leaves it.
    drop(network);
    let mut program =
        spawned.map_err(|e| BuildError::Other(anyhow::anyhow!("cannot run cargo: {e}")))?;
    let in_time = log.wait_exit(Instant::now() + how.limit);
    if !in_time {
        program.kill();
    }
    program.wait();
    let (status, diagnostics) = log.take();
    if !in_time {
        let message = format!(
            "building {} took longer than {}: stopped",
            kit.show(dir),
            show_duration(how.limit)
        );
        eprintln!("grader: {message}");
        return Err(BuildError::Compile(format!(
            "{message} (the limit is `limits.build` of the lab's spec.yaml)\n{diagnostics}"
        )));
    }
    match status {
        Some(sandbox::Status::Code(0)) => Ok(target.join("debug")),
        Some(sandbox::Status::Code(_)) => Err(BuildError::Compile(diagnostics)),
        Some(sandbox::Status::Signal(s)) => Err(BuildError::Compile(format!(
            "cargo was killed by signal {s}\n{diagnostics}"
        ))),
        None => Err(BuildError::Other(anyhow::anyhow!("cargo did not finish"))),
    }
}

/// The arguments that give cargo `build_dir` as its build directory
/// (`--config build.build-dir="..."`), where intermediate artifacts go;
/// none for `None`.
pub fn build_dir_config(build_dir: Option<&Path>) -> Vec<String> {
    build_dir.map_or_else(Vec::new, |d| {
        vec![
            "--config".into(),
            format!("build.build-dir={}", toml_string(d)),
        ]
    })
}

/// `path` as a TOML string, for cargo's `--config KEY=VALUE`.
fn toml_string(path: &Path) -> String {
    let text = path.display().to_string();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The cargo the grader was started by, or the one on the PATH.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `CARGO_HOME` and `RUSTUP_HOME` as the grader has them (the user's home
/// is another), once it is sure that other users can run its cargo and
/// read its toolchain.
///
/// # Errors
/// Which directory keeps them out, and how to open it.
fn toolchain_for_others() -> anyhow::Result<Vec<(String, String)>> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let var = |name: &str, default: &str| {
        std::env::var_os(name).map_or_else(|| home.join(default), PathBuf::from)
    };
    let (cargo_home, rustup_home) = (var("CARGO_HOME", ".cargo"), var("RUSTUP_HOME", ".rustup"));
    let cargo =
        which(&cargo_program()).ok_or_else(|| anyhow::anyhow!("cannot find cargo on the PATH"))?;
    for path in [cargo.as_path(), &cargo_home, &rustup_home] {
        if path.exists()
            && let Some(why) = crate::confine::unreachable_by_others(path)
        {
            anyhow::bail!(
                "the grader runs as root and builds the submission as an unprivileged user, who cannot reach {}: {why}. \
                 Run autograder/share-toolchain as root once (it opens the way to the Rust toolchain, and changes nothing else)",
                path.display()
            );
        }
    }
    Ok(vec![
        ("CARGO_HOME".into(), cargo_home.display().to_string()),
        ("RUSTUP_HOME".into(), rustup_home.display().to_string()),
    ])
}

/// Finds `program` as the PATH would (or takes it as it is when it names
/// a directory).
fn which(program: &std::ffi::OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.components().count() > 1 {
        return Some(p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(p))
            .find(|c| c.is_file())
    })
}

/// The hard limits of a build: the build's time for each process, and
/// room for the compilers' memory, threads and files.
fn build_limits(time: Duration) -> sandbox::Limits {
    sandbox::Limits {
        cpu: time,
        memory: 16 << 30,
        address_space: u64::MAX,
        processes: 4096,
        open_files: 16384,
        output: 64 << 20,
    }
}

/// What a build printed and how it ended, as the sandbox tells it.
#[derive(Default)]
struct BuildLog {
    seen: Mutex<Seen>,
    changed: Condvar,
}

#[derive(Default)]
struct Seen {
    diagnostics: String,
    status: Option<sandbox::Status>,
    closed: usize,
}

impl BuildLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `done`, or `deadline`; says whether `done`.
    fn wait_for(&self, deadline: Instant, done: impl Fn(&Seen) -> bool) -> bool {
        let mut seen = self.lock();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            seen = (self.changed.wait_timeout(seen, left))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits until cargo exits, or `deadline`; says whether it exited.
    fn wait_exit(&self, deadline: Instant) -> bool {
        self.wait_for(deadline, |s| s.status.is_some())
    }

    fn take(&self) -> (Option<sandbox::Status>, String) {
        let mut seen = self.lock();
        (seen.status, std::mem::take(&mut seen.diagnostics))
    }

    fn note(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }
}

impl sandbox::Observer for BuildLog {
    fn started(&self, _: Instant, _: nix::unistd::Pid) {}

    fn line(&self, stream: sandbox::Stream, line: String) {
        if stream == sandbox::Stream::Stdout {
            return;
        }
        if is_progress(&line) {
            eprintln!("{line}");
        } else {
            self.note(|s| {
                s.diagnostics.push_str(&line);
                s.diagnostics.push('\n');
            });
        }
    }

    fn closed(&self, _: sandbox::Stream) {
        self.note(|s| s.closed += 1);
    }

    fn flooded(&self, _: sandbox::Stream, limit: usize) {
        let line = format!("(cargo printed more than {limit} bytes: stopped)\n");
        self.note(|s| s.diagnostics.push_str(&line));
    }

    fn exceeded(&self, limit: sandbox::Limit) {
        let line = format!("(the build went past a limit of the grader: {limit:?})\n");
        self.note(|s| s.diagnostics.push_str(&line));
    }

    fn exited(&self, exit: sandbox::Exit) {
        self.note(|s| s.status = Some(exit.status));
    }

    /// Until cargo's output closes: everything it printed is in. The
    /// sandbox kills what cargo left when it exits, which closes the
    /// pipes; ten seconds bound a process out of its reach.
    fn wait_closed(&self) {
        self.wait_for(Instant::now() + Duration::from_secs(10), |s| s.closed == 2);
    }
}

/// A limit as a spec would write it: `10m`, `90s`, `250ms`.
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms > 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Whether cargo's line is one of its status lines (a right-aligned verb
/// such as `Compiling` or `Downloaded`), rather than a diagnostic.
fn is_progress(line: &str) -> bool {
    let plain: String = strip_ansi(line);
    let word = plain.trim_start().split(' ').next().unwrap_or("");
    plain.starts_with(' ')
        && matches!(
            word,
            "Compiling"
                | "Checking"
                | "Downloading"
                | "Downloaded"
                | "Updating"
                | "Locking"
                | "Adding"
                | "Blocking"
                | "Fresh"
                | "Finished"
        )
}

/// `line` without terminal colour codes.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs a crate's own unit tests (`cargo test`), built into `target` with
/// the kit's shared `build_dir`; returns the output on failure.
///
/// # Errors
/// The test output when a test fails or the crate does not build.
pub fn unit_tests(dir: &Path, target: &Path, build_dir: &Path) -> Result<(), String> {
    let out = cargo()
        .args(["test", "--quiet", "--color", "never", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .args(build_dir_config(Some(build_dir)))
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_written_as_a_spec_would() {
        assert_eq!(show_duration(Duration::from_secs(600)), "10m");
        assert_eq!(show_duration(Duration::from_secs(90)), "90s");
        assert_eq!(show_duration(Duration::from_millis(1)), "1ms");
    }

    #[test]
    fn cargo_status_lines_are_told_from_diagnostics() {
        assert!(is_progress("   Compiling nix v0.31.3"));
        assert!(is_progress(
            "\u{1b}[1m\u{1b}[32m   Compiling\u{1b}[0m nix v0.31.3"
        ));
        assert!(is_progress(
            "    Finished `dev` profile [unoptimized] target(s) in 1.2s"
        ));
        assert!(!is_progress("error[E0308]: mismatched types"));
        assert!(!is_progress("  --> src/main.rs:2:21"));
        assert!(!is_progress("warning: unused variable: `x`"));
    }
}
