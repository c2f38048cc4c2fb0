//! The kit on disk: where the labs, solutions and specs are, and building
//! a lab's executables (or finding them in `--bin-dir`).
//!
//! This module sits under the grader's stages and uses none of them: it
//! knows directories, cargo and executables, not specs or tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

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
    let dir = match source {
        Source::BinDir(d) => d.clone(),
        Source::Skeleton => build(kit, &lab.lab_dir, how)?,
        Source::Solution => build(kit, &lab.solution_dir, how)?,
    };
    let mut out = Programs::new();
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
        let p = std::fs::canonicalize(&p).map_err(|e| BuildError::Other(e.into()))?;
        out.insert(b.clone(), p);
    }
    Ok(out)
}

/// The cargo the grader was started by, or the one on the PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the crate in `dir` into its own `target/`; returns where its executables are.
///
/// Cargo's progress (`Compiling nix v0.31.3`, `Downloading ...`) goes to
/// stderr as it comes, so that a first build, which fetches and compiles
/// every dependency, is visibly at work; its diagnostics are kept for the
/// report when the build fails.
///
/// Cargo runs in a process group of its own, with the compilers and build
/// scripts it starts: past `how.limit`, the whole group is killed (a build
/// script or a procedural macro of the graded crate may never end), and
/// the build fails with a message that says so.
fn build(kit: &Kit, dir: &Path, how: BuildOptions) -> Result<PathBuf, BuildError> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::Other(anyhow::anyhow!(
            "{} has no Cargo.toml",
            kit.show(dir)
        )));
    }
    let target = dir.join("target");
    eprintln!("grader: building {}", kit.show(dir));
    let started = Instant::now();
    let mut child = cargo()
        .args([
            "build",
            "--color",
            if how.color { "always" } else { "never" },
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| BuildError::Other(anyhow::anyhow!("cannot run cargo: {e}")))?;
    // A thread reads cargo's stderr; this one waits for its lines with
    // the deadline in view. The pipe closes when cargo exits.
    let (lines, rx) = mpsc::channel();
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut diagnostics = String::new();
    let in_time = loop {
        let left = how.limit.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) if is_progress(&line) => eprintln!("{line}"),
            Ok(line) => {
                diagnostics.push_str(&line);
                diagnostics.push('\n');
            }
            Err(RecvTimeoutError::Disconnected) => break true,
            Err(RecvTimeoutError::Timeout) => break false,
        }
    };
    if !in_time {
        // Cargo is not reaped yet, so its group id is still its own.
        let pgid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = child.wait();
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
    let status = child
        .wait()
        .map_err(|e| BuildError::Other(anyhow::anyhow!("cargo did not finish: {e}")))?;
    if !status.success() {
        return Err(BuildError::Compile(diagnostics));
    }
    Ok(target.join("debug"))
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

/// Runs a crate's own unit tests (`cargo test`); returns the output on failure.
///
/// # Errors
/// The test output when a test fails or the crate does not build.
pub fn unit_tests(dir: &Path) -> Result<(), String> {
    let out = cargo()
        .args(["test", "--quiet", "--color", "never", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(dir.join("target"))
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
