//! Verdicts do not depend on how busy the machine is: the labs written in
//! Python from the spec pages alone (`solutions/hwN-python`) pass every
//! test of their lab, with the grader's default `-j`, while busy loops
//! keep both CPUs of a small grading machine busy twice over.
//!
//! A timing assumption in a spec, or in the grader, fails here, in the
//! kit's own CI, rather than in a student's grade. The labs are graded one
//! after another, each beside the same busy loops, so the load is the same
//! for each whatever runs the suite.

mod common;
use common::{BusyLoops, grader, other_language, root, run};

/// Busy loops beside the grader: four, as on a 2-core machine running two
/// other builds.
const BUSY: usize = 4;

/// (lab, its crate under labs/, the Python implementation, seed).
const LABS: [(&str, &str, &str, &str); 6] = [
    ("hw1", "hw1-udp-echo", "hw1-python", "21"),
    ("hw2", "hw2-kv-store", "hw2-python", "23"),
    ("hw3", "hw3-cache", "hw3-python", "27"),
    ("hw4", "hw4-balance", "hw4-python", "24"),
    ("hw5", "hw5-primary-backup", "hw5-python", "25"),
    ("hw6", "hw6-voting", "hw6-python", "26"),
];

/// Every Python lab passes every test beside busy loops.
#[test]
fn the_python_labs_pass_every_test_on_a_busy_machine() {
    let _busy = BusyLoops::start(BUSY);
    let mut failed = Vec::new();
    for (lab, crate_dir, python, seed) in LABS {
        let spec =
            std::fs::read_to_string(root().join("labs").join(crate_dir).join("spec.yaml")).unwrap();
        let tests = spec.matches("\n  - name: ").count();
        let (code, out, err) = run(grader()
            .args([lab, "--seed", seed, "--bin-dir"])
            .arg(other_language(python)));
        let all = out
            .trim_end()
            .ends_with(&format!("{tests} passed, 0 failed"));
        if code != 0 || !all {
            failed.push(format!("{lab} (exit {code}):\n{out}\n{err}"));
        }
    }
    assert!(
        failed.is_empty(),
        "beside {BUSY} busy loops:\n{}",
        failed.join("\n")
    );
}
