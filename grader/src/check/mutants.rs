//! Broken programs as small mutations of the reference solution.
//!
//! A test proves its worth by failing a program that has the bug it is
//! meant for. Keeping such programs as separate fixtures lets them drift
//! from the solution until they test nothing; keeping them as *edits* of
//! the solution cannot drift: when the solution changes under an edit, the
//! edit no longer applies and `grader check` says so.
//!
//! # Format
//!
//! `solutions/hwN-*/mutants.yaml`, next to the solution (it shows solution
//! code, so it is never copied into a skeleton):
//!
//! ```yaml
//! mutants:
//!   - name: ignores-seed
//!     description: the client seeds its keys from the clock, whatever --seed says
//!     edits:
//!       - file: src/client.rs
//!         find: "let seed = args.seed.unwrap_or_else(seed_from_clock);"
//!         replace: "let seed = seed_from_clock();"
//!     caught_by:
//!       - test: echo
//!         message: "client stderr (lines that must appear) differs"
//!     seeds: 1
//! ```
//!
//! Each `find` must occur exactly once in its file. `grader check` copies
//! the solution, applies the edits, builds the copy, and runs each
//! `caught_by` test on it with `seeds` consecutive seeds: the test must
//! fail on every one, and a failure must say `message` (in its sentence,
//! expected/actual lines or notes).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::Deserialize;

use crate::kit;

/// The file of mutants next to a solution.
pub const FILE: &str = "mutants.yaml";

/// A solution's mutants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutants {
    /// The mutants, checked in this order.
    pub mutants: Vec<Mutant>,
}

/// One broken program: the solution with a few edits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutant {
    /// A short name: `ignores-seed`.
    pub name: String,
    /// The bug, in one sentence.
    pub description: String,
    /// What to change in the solution.
    pub edits: Vec<Edit>,
    /// The tests that must catch it.
    pub caught_by: Vec<Catch>,
    /// On how many consecutive seeds each test must catch it (default 1).
    #[serde(default = "one")]
    pub seeds: u64,
}

fn one() -> u64 {
    1
}

/// One textual change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The file, relative to the solution crate.
    pub file: PathBuf,
    /// Text that occurs exactly once in it.
    pub find: String,
    /// What it becomes.
    pub replace: String,
}

/// A test that must catch a mutant, and what its failure must say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catch {
    /// The test's name.
    pub test: String,
    /// Text a failure must contain, naming the cause.
    pub message: String,
}

impl Mutants {
    /// Reads `mutants.yaml` of a solution, if it has one.
    ///
    /// # Errors
    /// A file that cannot be read or parsed (with its line and column).
    pub fn load(solution: &Path) -> anyhow::Result<Option<Mutants>> {
        super::load_yaml(&solution.join(FILE))
    }
}

/// Where mutants of one solution are built: a copy of its sources and a
/// target directory shared by every mutant, so that only the crate itself
/// is compiled again for each. One `grader check` at a time has it: a
/// second one of the same lab waits (an exclusive `flock(2)` on
/// `target/mutants/lock`), or the two would run each other's builds.
pub struct Workshop {
    solution: PathBuf,
    copy: PathBuf,
    target: PathBuf,
    bins: PathBuf,
    /// The kit's shared cargo build directory, where the dependencies
    /// are already built.
    build_dir: Option<PathBuf>,
    _lock: Flock<fs::File>,
}

impl Workshop {
    /// The workshop under the solution's `target/mutants/`, once no other
    /// check holds it.
    ///
    /// # Errors
    /// The directory or its lock cannot be made.
    pub fn new(solution: &Path, build_dir: Option<&Path>) -> anyhow::Result<Workshop> {
        let base = solution.join("target").join("mutants");
        fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        let file = fs::File::create(base.join("lock"))?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((file, _)) => {
                eprintln!(
                    "grader: another `grader check` is building mutants in {}: waiting for it",
                    base.display()
                );
                Flock::lock(file, FlockArg::LockExclusive)
                    .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", base.display()))?
            }
        };
        Ok(Workshop {
            solution: solution.to_path_buf(),
            copy: base.join("crate"),
            target: base.join("target"),
            bins: base.join("bin"),
            build_dir: build_dir.map(Path::to_path_buf),
            _lock: lock,
        })
    }

    /// Builds `m` and returns the directory of its executables.
    ///
    /// # Errors
    /// An edit that does not apply (the text is not there exactly once),
    /// or a mutant that does not compile: both mean the mutant no longer
    /// fits the solution.
    pub fn build(&self, m: &Mutant, binaries: &[String]) -> anyhow::Result<PathBuf> {
        self.restore()?;
        for e in &m.edits {
            let path = self.copy.join(&e.file);
            let text = fs::read_to_string(&path)
                .with_context(|| format!("mutant `{}`: reading {}", m.name, e.file.display()))?;
            let n = text.matches(&e.find).count();
            if n != 1 {
                bail!(
                    "mutant `{}`: the text to replace occurs {n} times in {} (it must occur once): the solution changed; update {FILE}\n  find: {}",
                    m.name,
                    e.file.display(),
                    e.find
                );
            }
            fs::write(&path, text.replacen(&e.find, &e.replace, 1))?;
        }
        let out = kit::cargo()
            .args(["build", "--quiet", "--color", "never", "--manifest-path"])
            .arg(self.copy.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&self.target)
            .args(kit::build_dir_config(self.build_dir.as_deref()))
            .output()
            .context("running cargo")?;
        if !out.status.success() {
            bail!(
                "mutant `{}` does not build:\n{}",
                m.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let dir = self.bins.join(&m.name);
        fs::create_dir_all(&dir)?;
        for b in binaries {
            fs::copy(self.target.join("debug").join(b), dir.join(b))
                .with_context(|| format!("mutant `{}`: copying {b}", m.name))?;
        }
        Ok(dir)
    }

    /// Makes the copy the solution again: every source file, with relative
    /// `path = "..."` dependencies made absolute (the copy lives elsewhere).
    fn restore(&self) -> anyhow::Result<()> {
        copy_tree(&self.solution, &self.copy, Path::new(""))?;
        let manifest = self.copy.join("Cargo.toml");
        let text = fs::read_to_string(&manifest)?;
        fs::write(&manifest, absolute_paths(&text, &self.solution))?;
        Ok(())
    }
}

/// Copies the crate's files (not `target/`, not dot-files) from `from` to `to`.
fn copy_tree(from: &Path, to: &Path, rel: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to.join(rel))?;
    for entry in fs::read_dir(from.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str.starts_with('.') || (rel.as_os_str().is_empty() && name_str == "target") {
            continue;
        }
        let r = rel.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(from, to, &r)?;
        } else {
            let src = fs::read(from.join(&r))?;
            // Rewrite only what differs, so cargo sees unchanged files as such.
            if fs::read(to.join(&r)).ok().as_deref() != Some(src.as_slice()) {
                fs::write(to.join(&r), src)?;
            }
        }
    }
    Ok(())
}

/// `path = "../x"` in a manifest, made absolute against `base`.
fn absolute_paths(manifest: &str, base: &Path) -> String {
    let mut out = String::new();
    let mut rest = manifest;
    while let Some(i) = rest.find("path = \"") {
        let start = i + "path = \"".len();
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('"') else {
            break;
        };
        let p = &rest[start..start + end];
        let joined = base.join(p);
        let abs = fs::canonicalize(&joined).unwrap_or(joined);
        if Path::new(p).is_relative() && p.starts_with("..") {
            out.push_str(&abs.display().to_string());
        } else {
            out.push_str(p);
        }
        rest = &rest[start + end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dependencies_become_absolute() {
        let base = std::env::temp_dir();
        let m = "handout = { path = \"../x\" }\n[[bin]]\npath = \"src/bin/a.rs\"\n";
        let out = absolute_paths(m, &base);
        assert!(
            out.contains(&format!("path = \"{}\"", base.join("../x").display()))
                || out.contains("path = \"/"),
            "{out}"
        );
        assert!(out.contains("path = \"src/bin/a.rs\""), "{out}");
    }

    /// Two checks of one lab never share the workshop.
    #[test]
    fn one_check_at_a_time_holds_the_workshop() {
        let dir = std::env::temp_dir().join(format!("grader-workshop-{}", std::process::id()));
        let shop = Workshop::new(&dir, None).unwrap();
        let lock = dir.join("target/mutants/lock");
        let again = |path: &Path| {
            Flock::lock(
                fs::File::open(path).unwrap(),
                FlockArg::LockExclusiveNonblock,
            )
            .is_ok()
        };
        assert!(!again(&lock), "taken while the first check holds it");
        drop(shop);
        assert!(again(&lock), "free once it is done");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_format_parses() {
        let m: Mutants = serde_yaml::from_str(
            "mutants:\n  - name: a\n    description: d\n    edits: [{ file: src/x.rs, find: f, replace: r }]\n    caught_by: [{ test: echo, message: m }]\n",
        )
        .unwrap();
        assert_eq!(m.mutants[0].seeds, 1);
    }
}
