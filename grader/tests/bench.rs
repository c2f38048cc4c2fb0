//! `grader bench` on the kit, in short settings: its report has every
//! section, each with figures (numbers, whatever their values: a busy
//! machine changes those), and nothing it started is left running.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One bench at a time: each looks for what the other left running.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A short bench: 0.3 s per target, no grading time.
fn bench(extra: &[&str]) -> (String, String) {
    let (code, out, err) = common::run(
        common::grader()
            .args(["bench", "--quick", "--seconds", "0.3"])
            .args(extra),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    (out, err)
}

/// The words of the row of `report` that starts with `first` (after
/// the indentation) and names `target`, for `clients` clients.
fn row<'a>(report: &'a str, clients: &str, target: &str) -> Vec<&'a str> {
    report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(clients) && l.contains(target))
        .unwrap_or_else(|| panic!("no row for {target} at {clients} client(s) in:\n{report}"))
        .split_whitespace()
        .collect()
}

fn is_number(word: &str) -> bool {
    word.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A figures row: clients, target (one or two words), requests/s, p50
/// and p99 (each a number and a unit), answered, lost, wrong.
fn assert_figures(report: &str, clients: &str, target: &str) {
    let words = row(report, clients, target);
    let figures = &words[1 + target.split_whitespace().count()..];
    assert_eq!(figures.len(), 8, "{words:?}");
    assert!(is_number(figures[0]), "requests/s in {words:?}");
    for latency in [&figures[1..3], &figures[3..5]] {
        assert!(
            is_number(latency[0]) && ["µs", "ms"].contains(&latency[1]),
            "a latency in {words:?}"
        );
    }
    for count in &figures[5..] {
        assert!(count.parse::<u64>().is_ok(), "a count in {words:?}");
    }
}

fn assert_ratio(report: &str, clients: &str) {
    let words = row(report, clients, "reference/baseline:");
    assert!(
        words.last().is_some_and(|w| is_number(w)),
        "a ratio in {words:?}"
    );
}

/// The section of `report` that starts with the line starting `heading`,
/// to the next empty line.
fn section<'a>(report: &'a str, heading: &str) -> &'a str {
    let start = report
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("no section `{heading}` in:\n{report}"));
    let rest = &report[start + 1..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// Every process of the kit's reference programs, and every baseline
/// the grader started, still running: `pid command`.
fn left_running() -> Vec<String> {
    let solutions = common::root().join("solutions");
    let grader: PathBuf = assert_cmd::cargo::cargo_bin("grader");
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let dir = entry.path();
        let Ok(exe) = std::fs::read_link(dir.join("exe")) else {
            continue;
        };
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let baseline = exe == grader && command.contains("bench-baseline");
        if exe.starts_with(&solutions) || baseline {
            left.push(format!("{} {command}", Path::new(&dir).display()));
        }
    }
    left
}

/// The report for people: every section, each row with figures.
#[test]
fn bench_reports_every_section_with_figures() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, err) = bench(&[]);
    let report = format!("\n{out}");

    let echo = section(&report, "Echo:");
    for clients in ["1", "4"] {
        assert_figures(echo, clients, "hw1 server");
        assert_figures(echo, clients, "baseline (echo)");
        assert_ratio(echo, clients);
    }

    let idle = section(&report, "Idle CPU:");
    for (lab, program) in [
        ("hw1", "server"),
        ("hw2", "server"),
        ("hw3", "cache"),
        ("hw3", "server"),
        ("hw4", "server"),
        ("hw5", "primary"),
        ("hw5", "backup0"),
        ("hw5", "backup1"),
        ("hw6", "server"),
    ] {
        let words = row(idle, lab, &format!(" {program} "));
        assert_eq!(words.len(), 7, "{words:?}");
        assert!(
            is_number(words[2]) && words[3] == "%" && is_number(words[4]) && words[5] == "%",
            "percentages in {words:?}"
        );
        assert!(words[6].parse::<u64>().is_ok(), "wakeups in {words:?}");
    }

    assert!(
        report.contains("\nGrading time: skipped (--quick)\n"),
        "{report}"
    );

    let store = section(&report, "hw2 store:");
    assert_figures(store, "4", "hw2 server");
    assert_figures(store, "4", "baseline (store)");
    assert_ratio(store, "4");

    let writes = section(&report, "hw5 write path:");
    assert_figures(writes, "4", "hw5 primary");
    assert_figures(writes, "4", "baseline (store)");
    assert_ratio(writes, "4");

    let left = left_running();
    assert!(
        left.is_empty(),
        "left running after grader bench:\n{}\nstderr:\n{err}",
        left.join("\n")
    );
}

/// `--format json`: the same figures as JSON on stdout, the text on stderr.
#[test]
fn bench_writes_json_on_request() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (out, err) = bench(&["--format", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"));
    assert!(err.contains("\nEcho:"), "the text goes to stderr:\n{err}");
    let number = |v: &serde_json::Value| v.as_f64().is_some_and(f64::is_finite);
    let echo = json["echo"].as_array().expect("echo: a list");
    assert_eq!(echo.len(), 2, "{json:#}");
    for c in echo.iter().chain([&json["store"], &json["write_path"]]) {
        for side in ["reference", "baseline"] {
            for figure in [
                "per_second",
                "p50_us",
                "p99_us",
                "answered",
                "lost",
                "wrong",
            ] {
                assert!(number(&c[side][figure]), "{side}.{figure} in {c:#}");
            }
        }
        assert!(number(&c["ratio"]), "{c:#}");
    }
    let idle = json["idle"].as_array().expect("idle: a list");
    assert_eq!(idle.len(), 9, "{json:#}");
    for i in idle {
        assert!(number(&i["cpu_percent"]) && number(&i["wakeups"]), "{i:#}");
    }
    assert!(json["grading"].is_null(), "--quick: {json:#}");
    assert!(number(&json["machine"]["cpus"]), "{json:#}");
}
