//! Shared by the grader's integration tests: the kit's root, the reference
//! programs built, the non-Rust fixtures, and temporary kits.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use assert_cmd::cargo::CommandCargoExt;

/// The kit's root directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("grader/ has a parent")
        .to_path_buf()
}

/// The grader, run from the kit's root, with plain output, as a user who
/// installed it would run it (not through the `cargo grader` alias).
pub fn grader() -> Command {
    let mut c = Command::cargo_bin("grader").expect("the grader binary");
    c.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("CARGO");
    c
}

/// Builds the crate in `dir` of the kit as the grader does: into its own
/// target directory under `target/labs/`, with the kit's shared build
/// directory, so that what one builds the other finds built.
fn cargo_build(dir: &Path) -> PathBuf {
    let kit = grader::kit::Kit::find(Some(&root())).expect("the kit");
    let target = kit.own_target(dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .arg("--config")
        .arg(format!(
            "build.build-dir=\"{}\"",
            kit.build_dir_of(dir).display()
        ))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {} failed", dir.display());
    target.join("debug")
}

/// Where the reference solution of hw1 is built.
pub fn hw1_solution() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| cargo_build(&root().join("solutions/hw1-udp-echo")))
}

/// A lab written in another language, kept beside the reference solution
/// (so it is never handed out): `hw1-python` (a correct hw1) or
/// `hw1-course` (the course's C programs, imitated).
pub fn other_language(name: &str) -> PathBuf {
    root().join("solutions").join(name)
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

/// A kit in a temporary directory whose lab hw1 has `spec` as its spec.
pub fn kit_with_spec(name: &str, spec: &str) -> TempDir {
    let dir = TempDir::new(name);
    let lab = dir.0.join("labs/hw1-udp-echo");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(lab.join("spec.yaml"), spec).unwrap();
    dir
}

/// The text of hw1's spec.
pub fn hw1_spec() -> String {
    std::fs::read_to_string(root().join("labs/hw1-udp-echo/spec.yaml")).unwrap()
}

/// How many tests hw1's spec has.
pub fn hw1_tests() -> usize {
    hw1_spec().matches("\n  - name: ").count()
}

/// hw1's spec with only the tests called `keep`, in their order.
pub fn hw1_spec_with(keep: &[&str]) -> String {
    let text = hw1_spec();
    let (head, tests) = text.split_once("\ntests:\n").expect("a tests: list");
    let mut out = format!("{head}\ntests:\n");
    for block in tests.split("\n  - name: ").skip(1) {
        let name = block.lines().next().unwrap_or("").trim();
        if keep.contains(&name) {
            out.push_str("\n  - name: ");
            out.push_str(block.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Grades hw1 of the temporary kit `kit` with the executables in
/// `bin_dir`, with the grader arguments `args` after `hw1`; returns (exit
/// code, stdout, stderr).
pub fn grade_kit(kit: &TempDir, args: &[&str], bin_dir: &Path) -> (i32, String, String) {
    run(grader()
        .arg("--root")
        .arg(&kit.0)
        .arg("hw1")
        .args(args)
        .arg("--bin-dir")
        .arg(bin_dir))
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

/// Busy loops that keep `n` CPUs busy until dropped, as a shared grading
/// machine's other work would. Threads of the test process: they end with
/// it, whatever ends it.
pub struct BusyLoops(Arc<AtomicBool>, Vec<JoinHandle<()>>);

impl BusyLoops {
    /// `n` busy loops.
    pub fn start(n: usize) -> BusyLoops {
        let stop = Arc::new(AtomicBool::new(false));
        let loops = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        BusyLoops(stop, loops)
    }

    /// One busy loop per CPU.
    pub fn one_per_cpu() -> BusyLoops {
        BusyLoops::start(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for l in self.1.drain(..) {
            let _ = l.join();
        }
    }
}

/// Installs the distribution's `package` for a test that needs a tool
/// (a browser, tshark): as root, where apt-get exists, without questions,
/// refreshing the package lists only if a first try fails. `missing`
/// says what is missing, for the reason given when it cannot be done.
pub fn install_package(package: &str, missing: &str) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(format!("{missing}, and only root may install it"));
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!("{missing}, and there is no apt-get to install it"));
    }
    let apt_get = |args: &[&str]| {
        Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=300"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = ["install", "-y", "--no-install-recommends", package];
    if apt_get(&install) || (apt_get(&["update"]) && apt_get(&install)) {
        Ok(())
    } else {
        Err(format!("{missing}, and `apt-get install {package}` failed"))
    }
}
