//! Shared by the grader's integration tests: the kit's root, built
//! programs, and `--bin-dir` folders that mix reference and broken programs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use assert_cmd::cargo::CommandCargoExt;

/// The kit's root directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("grader/ has a parent")
        .to_path_buf()
}

/// The grader, run from the kit's root, with plain output.
pub fn grader() -> Command {
    let mut c = Command::cargo_bin("grader").expect("the grader binary");
    c.current_dir(root()).env("NO_COLOR", "1");
    c
}

fn cargo_build(dir: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(dir.join("target"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {} failed", dir.display());
    dir.join("target").join("debug")
}

/// Where the reference solution of hw1 is built.
pub fn hw1_solution() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| cargo_build(&root().join("solutions/hw1-udp-echo")))
}

/// Where the deliberately broken programs are built.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| cargo_build(&root().join("grader/tests/fixtures")))
}

/// A fresh empty directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("grader-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `--bin-dir` for hw1: the reference server and client, except that
/// `replace` swaps in fixtures, e.g. `[("client", "client-no-retransmit")]`.
pub fn hw1_bin_dir(name: &str, replace: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new(name);
    for role in ["server", "client"] {
        let src = match replace.iter().find(|(r, _)| *r == role) {
            Some((_, fixture)) => fixtures().join(fixture),
            None => hw1_solution().join(role),
        };
        std::fs::copy(&src, dir.0.join(role))
            .unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
    }
    dir
}

/// Runs the grader and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("the grader runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
