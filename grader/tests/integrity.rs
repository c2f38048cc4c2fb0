//! A submission cannot touch its own grade. As root, the grader grades the
//! hostile submissions of `tests/hostile-submission/`: a crate whose build
//! script and programs, and `--bin-dir` programs, each try to read the
//! hidden tests, append to the spec, replace the grader, write or prepare
//! results.json, leave a process to do it all again later, and list the
//! network they can see. Each attempt must fail: the grade is 0, every
//! file of the kit and the grader is as it was, results.json is the
//! grader's own, nothing of the submission runs once the grader has
//! exited, and each attack's line in the report says `refused`.
//!
//! Only as root, as CI runs. A grader that is not root runs a submission as
//! its own user, by design (on a student's laptop the student owns the kit
//! already): a hostile submission graded that way is out of this file's
//! scope.
//!
//! Each test works in a temporary kit with a copy of the grader, so that an
//! attack that succeeds harms only copies; the processes of a test are found
//! afterwards by a variable of the grader's environment, which every
//! program and its children inherit (as in `tests/hostile.rs`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::RwLock;
use std::time::Instant;

use common::{TempDir, hw1_tests, root};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, geteuid};

/// The attacks on files, in the order the submission tries them.
const FILE_ATTACKS: [&str; 7] = [
    "read-hidden",
    "write-spec",
    "write-grader",
    "rename-grader",
    "write-results",
    "precreate-results",
    "symlink-results",
];

/// What a program sees of the network in a namespace of its own: `lo`, and
/// no route (the kernel keeps loopback's routes out of /proc/net/route).
const LOOPBACK_ONLY: &str = "lo; routes: none";

/// Whether the test runs; if not, says why.
fn as_root(test: &str) -> bool {
    let euid = geteuid();
    if !euid.is_root() {
        eprintln!(
            "{test}: skipped: runs only as root (euid {euid}); a grader that is not root runs a submission as its own user, by design"
        );
    }
    euid.is_root()
}

/// What a submission is graded from.
enum Submission {
    /// The hostile crate, as the kit's `labs/hw1-udp-echo`.
    Crate,
    /// The hostile Python programs, with `--bin-dir`.
    Executables,
}

/// A temporary kit with hw1 and its hidden tests, a copy of the grader and
/// an empty results directory: everything the submission must not touch.
struct Setup {
    dir: TempDir,
    kit: PathBuf,
    grader: PathBuf,
    results: PathBuf,
    /// The `--bin-dir`, for [`Submission::Executables`].
    bin: Option<PathBuf>,
}

/// Files written here are executed here: the copy of the grader. A child
/// another thread forks while such a file is open for writing holds it
/// open until it reaches its exec, and running the file meanwhile fails
/// with `ETXTBSY`. So the two tests write their files under the write
/// lock, and start their programs under the read lock.
static WRITING: RwLock<()> = RwLock::new(());

/// Runs `cmd` (started under [`WRITING`]'s read lock) and returns (exit
/// code, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, String, String) {
    let child = {
        let _no_writer = WRITING.read().unwrap_or_else(|e| e.into_inner());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the grader starts")
    };
    let out = child.wait_with_output().expect("the grader runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Setup {
    fn new(name: &str, submission: Submission) -> Setup {
        let _writing = WRITING.write().unwrap_or_else(|e| e.into_inner());
        let dir = TempDir::new(name);
        let fixtures = root().join("grader/tests/hostile-submission");
        let kit = dir.0.join("kit");
        let lab = kit.join("labs/hw1-udp-echo");
        copy_tree(&root().join("labs/handout"), &kit.join("labs/handout"));
        let bin = match submission {
            Submission::Crate => {
                // As run_autograder takes a submitted crate: all of it but
                // for the kit's spec.yaml.
                copy_tree(&fixtures.join("crate"), &lab);
                fs::copy(
                    root().join("labs/hw1-udp-echo/spec.yaml"),
                    lab.join("spec.yaml"),
                )
                .unwrap();
                None
            }
            Submission::Executables => {
                copy_tree(&root().join("labs/hw1-udp-echo"), &lab);
                let bin = dir.0.join("submission");
                copy_tree(&fixtures.join("bin"), &bin);
                Some(bin)
            }
        };
        let hidden = kit.join("solutions/hw1-udp-echo");
        fs::create_dir_all(&hidden).unwrap();
        fs::copy(
            root().join("autograder/hidden-tests.example.yaml"),
            hidden.join("hidden.yaml"),
        )
        .unwrap();
        let grader = dir.0.join("grader");
        fs::copy(env!("CARGO_BIN_EXE_grader"), &grader).unwrap();
        let results = dir.0.join("results");
        fs::create_dir_all(&results).unwrap();
        Setup {
            dir,
            kit,
            grader,
            results,
            bin,
        }
    }

    /// The grader's copy, run from the kit as run_autograder runs it.
    fn grader(&self) -> Command {
        let mut c = Command::new(&self.grader);
        c.current_dir(&self.kit)
            .env("NO_COLOR", "1")
            .env_remove("CARGO")
            .arg("--root")
            .arg(&self.kit);
        c
    }

    /// Whether `grader list` promises each test a network of its own.
    fn own_network(&self) -> bool {
        let (code, out, err) = run(self.grader().arg("list"));
        assert_eq!(code, 0, "grader list:\n{out}\n{err}");
        let promise = "network: each test in a network namespace of its own";
        let line = out.lines().find(|l| l.starts_with("network: "));
        eprintln!("grader list says: {}", line.unwrap_or("(no network line)"));
        out.lines().any(|l| l.starts_with(promise))
    }

    /// Every file of the kit (target/ left out) and the grader's copy.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        walk(&self.kit, &mut files);
        walk(&self.grader, &mut files);
        files
    }
}

/// Copies the tree at `from` to `to`, leaving out every `target/`.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() && entry.file_name() != "target" {
            copy_tree(&src, &dst);
        } else if kind.is_file() {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Adds `path` to `files`: a file with its bytes, a symlink as `-> TARGET`,
/// a directory with everything under it but `target/`.
fn walk(path: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_symlink() {
        let to = fs::read_link(path).unwrap_or_default();
        files.insert(path.into(), format!("-> {}", to.display()).into_bytes());
    } else if meta.is_file() {
        files.insert(path.into(), fs::read(path).unwrap_or_default());
    } else if meta.is_dir() && path.file_name().is_none_or(|n| n != "target") {
        for entry in fs::read_dir(path).into_iter().flatten().flatten() {
            walk(&entry.path(), files);
        }
    }
}

/// What changed between two snapshots, one line per file.
fn changes(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
    base: &Path,
) -> Vec<String> {
    let show = |p: &Path| p.strip_prefix(base).unwrap_or(p).display().to_string();
    let mut out = Vec::new();
    for (path, bytes) in before {
        match after.get(path) {
            None => out.push(format!("removed {}", show(path))),
            Some(now) if now != bytes => out.push(format!(
                "changed {}: {} bytes before, {} after",
                show(path),
                bytes.len(),
                now.len()
            )),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("added {}", show(path)));
    }
    out
}

/// Processes alive (not zombies) whose environment holds `HOSTILE_MARK=mark`:
/// `pid: command line`.
fn survivors(mark: &str) -> Vec<(i32, String)> {
    let needle = format!("HOSTILE_MARK={mark}");
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
                && fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        })
        .map(|pid| {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

/// Each attack's outcomes, by who tried it, from the lines the programs
/// printed (`| hostile <who> <attack>: <outcome>` in the timelines of `-v`).
fn attack_lines(report: &str) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut seen: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for line in report.lines() {
        let Some((_, rest)) = line.split_once("| hostile ") else {
            continue;
        };
        let Some((who, rest)) = rest.split_once(' ') else {
            continue;
        };
        let Some((attack, outcome)) = rest.split_once(": ") else {
            continue;
        };
        seen.entry((who.to_string(), attack.to_string()))
            .or_default()
            .insert(outcome.to_string());
    }
    seen
}

/// What is wrong with results.json: it must be the grader's own file, a
/// regular one, alone in its directory, with every test and a score of 0.
fn results_problems(results: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let entries: Vec<String> = fs::read_dir(results)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.file_name().to_str()?.to_string()))
        .collect();
    if entries != ["results.json"] {
        problems.push(format!(
            "results directory: expected only results.json, found {entries:?}"
        ));
    }
    let file = results.join("results.json");
    match fs::symlink_metadata(&file) {
        Ok(m) if m.is_file() => {}
        Ok(m) => problems.push(format!(
            "results.json is not a regular file but {:?} (-> {:?})",
            m.file_type(),
            fs::read_link(&file).ok()
        )),
        Err(e) => problems.push(format!("results.json: {e}")),
    }
    let text = fs::read_to_string(&file).unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(doc) => {
            let score = doc["score"].as_f64();
            let tests = doc["tests"].as_array().map_or(0, Vec::len);
            // hw1's own tests and the one hidden test of the example.
            let want = hw1_tests() + 1;
            if score != Some(0.0) || tests != want {
                problems.push(format!(
                    "results.json: expected score 0 over {want} tests, found score {score:?} over {tests} tests"
                ));
            }
        }
        Err(e) => problems.push(format!("results.json is not JSON ({e}): {text:?}")),
    }
    problems
}

/// Grades `submission` as root and checks that it could touch nothing.
/// Every problem is listed before the test fails, so that one run shows
/// each defence that is missing.
fn grade_hostile(name: &str, submission: Submission) {
    let started = Instant::now();
    let setup = Setup::new(name, submission);
    let whos: &[&str] = match setup.bin {
        Some(_) => &["server", "client"],
        None => &["build", "server", "client"],
    };
    let own_network = setup.own_network();
    let before = setup.snapshot();
    let mark = format!("integrity-{}-{name}", std::process::id());
    let results_json = setup.results.join("results.json");

    let mut c = setup.grader();
    c.args(["hw1", "--seed", "1", "-j", "2", "-v"])
        .args(["--format", "gradescope", "--output"])
        .arg(&results_json);
    if let Some(bin) = &setup.bin {
        c.arg("--bin-dir").arg(bin);
    }
    c.env(
        "HOSTILE_HIDDEN",
        setup.kit.join("solutions/hw1-udp-echo/hidden.yaml"),
    )
    .env(
        "HOSTILE_SPEC",
        setup.kit.join("labs/hw1-udp-echo/spec.yaml"),
    )
    .env("HOSTILE_GRADER", &setup.grader)
    .env("HOSTILE_RESULTS", &results_json)
    .env("HOSTILE_MARK", &mark);
    let graded = Instant::now();
    let (code, report, err) = run(&mut c);
    // Right after the grader's exit: it must have waited for everything
    // the submission started to be gone before it wrote the grade.
    let left = survivors(&mark);
    for (pid, _) in &left {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    let grading = graded.elapsed();

    let mut problems = Vec::new();
    if code != 1 {
        problems.push(format!(
            "the grader exited with status {code}, expected 1 (a test failed); stderr:\n{err}"
        ));
    }
    if !left.is_empty() {
        problems.push(format!(
            "{} process(es) of the submission still running after the grader exited: {left:?}",
            left.len()
        ));
    }
    // What a program left in /tmp is gone with it (the programs in
    // Python leave one file each).
    let prefix = format!("hostile-{mark}-");
    let files: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    for f in &files {
        let _ = std::fs::remove_file(Path::new("/tmp").join(f));
    }
    if !files.is_empty() {
        problems.push(format!(
            "the submission's files are left in /tmp: {files:?}"
        ));
    }
    problems.extend(results_problems(&setup.results));
    let changed = changes(&before, &setup.snapshot(), &setup.dir.0);
    if !changed.is_empty() {
        // The first ones say enough: a hostile program writes many alike.
        let shown = changed.len().min(12);
        problems.push(format!(
            "{} file(s) of the kit and the grader changed:\n    {}{}",
            changed.len(),
            changed[..shown].join("\n    "),
            if shown < changed.len() {
                "\n    ..."
            } else {
                ""
            }
        ));
    }

    let seen = attack_lines(&report);
    for who in whos {
        for attack in FILE_ATTACKS {
            match seen.get(&(who.to_string(), attack.to_string())) {
                None => problems.push(format!("{who} {attack}: no line in the report")),
                Some(outcomes) => {
                    let done: Vec<&String> = outcomes
                        .iter()
                        .filter(|o| !o.starts_with("refused: "))
                        .collect();
                    if !done.is_empty() {
                        problems.push(format!(
                            "{who} {attack}: expected `refused: <os error>`, got {done:?}"
                        ));
                    }
                }
            }
        }
        // Leaving a process succeeds; what counts is that none is left
        // (checked above).
        let network = seen.get(&(who.to_string(), "network".to_string()));
        // Where `grader list` promises each test a network of its own, the
        // build gets one too.
        if own_network {
            let only_loopback = BTreeSet::from([LOOPBACK_ONLY.to_string()]);
            if network != Some(&only_loopback) {
                problems.push(format!(
                    "{who} network: expected only `{LOOPBACK_ONLY}`, got {network:?}"
                ));
            }
        }
    }
    // What each attack met, for the record.
    for ((who, attack), outcomes) in &seen {
        eprintln!("{name}: {who} {attack}: {outcomes:?}");
    }
    eprintln!(
        "{name}: grading took {:.1} s, the whole test {:.1} s",
        grading.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}\n\nreport (stdout):\n{}",
        problems.len(),
        problems.join("\n  "),
        report.lines().take(60).collect::<Vec<_>>().join("\n")
    );
}

/// A crate whose build script and programs attack the grading scores 0 and
/// changes nothing: not the kit, not the grader, not results.json.
#[test]
fn a_hostile_crate_cannot_touch_its_grade() {
    if as_root("a_hostile_crate_cannot_touch_its_grade") {
        grade_hostile("integrity-crate", Submission::Crate);
    }
}

/// `--bin-dir` programs that attack the grading score 0 and change nothing.
#[test]
fn hostile_executables_cannot_touch_their_grade() {
    if as_root("hostile_executables_cannot_touch_their_grade") {
        grade_hostile("integrity-bin-dir", Submission::Executables);
    }
}
