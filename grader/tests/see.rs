//! Seeing what happened: the files `--trace` writes and a failing run
//! gets (diagram, capture, ShiViz log), `--html`, `--shrink`, and what the
//! human report adds (`-v` on a pass, the `--repeat` table, durations, the
//! files of a failing run).
//!
//! The programs are the Python hw1 (correct) and the course's (whose
//! client never retransmits, so any lost datagram makes it fail).

mod common;

use std::path::Path;

use common::{TempDir, grade_kit, hw1_spec_with, kit_with_spec, other_language};

/// hw1's `echo` alone, with random faults and a short time limit, so that
/// the course's client fails quickly wherever a datagram is lost.
fn lossy_echo() -> String {
    hw1_spec_with(&["echo"]).replacen(
        "    nodes:",
        "    timeout: 3s\n    network:\n      faults: { drop: 0.25, duplicate: 0.25 }\n    nodes:",
        1,
    )
}

/// The datagrams an SVG draws (`<g class="datagram" ...>`), and how many
/// of them are lost (the legend's samples are not counted).
fn arrows(svg: &str) -> (usize, usize) {
    let groups: Vec<&str> = svg
        .split("<g class=\"datagram\" ")
        .skip(1)
        .map(|g| g.split('>').next().unwrap_or(""))
        .collect();
    let lost = groups
        .iter()
        .filter(|g| g.contains("data-fate=\"dropped\""))
        .count();
    (groups.len(), lost)
}

#[test]
fn trace_writes_a_diagram_a_capture_and_a_shiviz_log_for_every_run() {
    let kit = kit_with_spec("see-trace", &hw1_spec_with(&["echo", "gives-up"]));
    let dir = TempDir::new("see-trace-out");
    let (code, out, err) = grade_kit(
        &kit,
        &["--seed", "1", "-v", "--trace", dir.0.to_str().unwrap()],
        &other_language("hw1-python"),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    for test in ["echo", "gives-up"] {
        let base = dir.0.join("hw1").join(test);
        let svg = std::fs::read_to_string(base.with_extension("svg")).unwrap();
        let pcap = std::fs::read(base.with_extension("pcap")).unwrap();
        let log = std::fs::read_to_string(base.with_extension("shiviz")).unwrap();
        assert!(
            svg.starts_with("<svg"),
            "{test}: {}",
            &svg[..80.min(svg.len())]
        );
        // The libpcap magic number, little-endian.
        assert_eq!(pcap[..4], [0xd4, 0xc3, 0xb2, 0xa1], "{test}");
        assert!(!log.is_empty(), "{test}");
    }
    // echo: five requests, five replies, all delivered.
    let svg = std::fs::read_to_string(dir.0.join("hw1/echo.svg")).unwrap();
    assert_eq!(arrows(&svg), (10, 0));
    // -v shows the timeline of a test that passed too.
    assert!(out.contains("  PASS  echo"), "{out}");
    assert!(out.contains("timeline (10 datagrams):"), "{out}");
}

#[test]
fn a_failing_run_gets_its_files_and_the_report_names_them() {
    let kit = kit_with_spec("see-failing", &lossy_echo());
    let page = kit.0.join("report.html");
    let (code, out, err) = grade_kit(
        &kit,
        &["--seed", "2", "--html", page.to_str().unwrap()],
        &other_language("hw1-course"),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let svg = kit.0.join("target/grader/hw1/echo.svg");
    let pcap = kit.0.join("target/grader/hw1/echo.pcap");
    assert!(
        out.contains(
            "see: target/grader/hw1/echo.svg (diagram), target/grader/hw1/echo.pcap (capture)"
        ),
        "{out}"
    );
    let (drawn, lost) = arrows(&std::fs::read_to_string(&svg).unwrap());
    assert!(drawn >= 1 && lost >= 1, "{drawn} arrows, {lost} lost");
    assert!(Path::new(&pcap).is_file());
    // No ShiViz log without --trace.
    assert!(!kit.0.join("target/grader/hw1/echo.shiviz").exists());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("echo") && html.contains("<svg"),
        "{}",
        &html[..200]
    );
    assert!(err.contains("grader: the report as a page: "), "{err}");
    // The replay line says what a replay repeats.
    assert!(
        out.contains(
            "(the same requests and the same faults; your programs' own timing may differ)"
        ),
        "{out}"
    );
}

#[test]
fn repeat_ends_with_a_table_of_the_runs_of_each_test() {
    let kit = kit_with_spec("see-repeat", &hw1_spec_with(&["echo"]));
    let (code, out, err) = grade_kit(
        &kit,
        &["--seed", "5", "--repeat", "3"],
        &other_language("hw1-python"),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("runs of each test:\n  hw1 echo    3 passed    0 failed\n"),
        "{out}"
    );
}

#[test]
fn shrink_finds_the_one_loss_that_matters_and_writes_a_test_that_replays_it() {
    let kit = kit_with_spec("see-shrink", &lossy_echo());
    let course = other_language("hw1-course");
    let (code, out, err) = grade_kit(&kit, &["-t", "echo", "--seed", "2", "--shrink"], &course);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("hw1 echo fails with 1 of its run's "),
        "{out}\n{err}"
    );
    assert!(err.contains("grader: shrink: "), "{err}");
    let rule = out
        .lines()
        .find(|l| l.trim_start().starts_with("- drop: { from: "))
        .unwrap_or_else(|| panic!("no rule in:\n{out}"));
    assert!(rule.contains(", nth: ["), "{rule}");
    let file = kit.0.join("target/grader/hw1/echo-shrunk.yaml");
    assert!(kit.0.join("target/grader/hw1/echo-shrunk.svg").is_file());
    // The shrunk test, replayed: it fails again, with the one rule.
    let (code, out, err) = grade_kit(
        &kit,
        &[
            "--extra-spec",
            file.to_str().unwrap(),
            "-t",
            "echo-shrunk",
            "--seed",
            "2",
        ],
        &course,
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("  FAIL  echo-shrunk"), "{out}");
}

#[test]
fn shrink_needs_one_test() {
    let kit = kit_with_spec("see-shrink-usage", &lossy_echo());
    let (code, _, err) = grade_kit(&kit, &["--shrink"], &other_language("hw1-course"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--test"), "{err}");
}
