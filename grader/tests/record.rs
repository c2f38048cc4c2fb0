//! What a run recorded reaches the report: `-v` prints the timeline of a
//! failing test, every datagram with its fate, the rule that decided it,
//! and the programs' starts, signals and exits.

mod common;
use common::{hw1_solution, hw1_spec_with, kit_with_spec};

/// `-v` under a failure shows the datagrams a rule dropped, and process events.
#[test]
fn the_verbose_timeline_shows_fates_rules_and_processes() {
    // The real `loss` test, with an expectation the solution cannot meet,
    // so that it fails and prints its timeline.
    let spec = hw1_spec_with(&["loss"]).replacen(
        "      server:\n        exit: 0",
        "      server:\n        exit: 3",
        1,
    );
    let kit = kit_with_spec("timeline", &spec);
    let (code, out, err) =
        common::grade_kit(&kit, &["-t", "loss", "--seed", "4", "-v"], hw1_solution());
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("server exited with exit code 0; expected exit code 3"),
        "{out}"
    );
    assert!(out.contains("timeline ("), "{out}");
    assert!(
        out.contains("client -> server  33 bytes  Type: READ_REQ Key: "),
        "{out}"
    );
    assert!(
        out.contains("[dropped by rule 1]"),
        "the first request is dropped by rule 1:\n{out}"
    );
    assert!(
        out.contains("[dropped by rule 2]"),
        "the first reply to request 2 by rule 2:\n{out}"
    );
    assert!(out.contains("server started: "), "{out}");
    assert!(out.contains("bound UDP port"), "{out}");
    assert!(out.contains("the grader sent SIGINT to server"), "{out}");
    assert!(out.contains("client exited with exit code 0"), "{out}");
}

/// Without `-v`, the report only says how many datagrams there were.
#[test]
fn without_verbose_the_datagrams_are_counted() {
    let spec = hw1_spec_with(&["echo"]).replacen("min: 5, max: 5 }", "min: 6, max: 6 }", 1);
    let kit = kit_with_spec("quiet", &spec);
    let (code, out, _) = common::grade_kit(&kit, &["--seed", "4"], hw1_solution());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("client sent 5 READ_REQs to server; expected exactly 6"),
        "{out}"
    );
    assert!(
        out.contains("wire: add -v to see the 10 datagrams on the wire"),
        "{out}"
    );
    assert!(!out.contains("timeline ("), "{out}");
}

/// Alike failures collapse: the first three in full, then a count.
#[test]
fn alike_failures_collapse() {
    let spec = hw1_spec_with(&["echo"]).replacen(
        "reply: READ_REP, value: DDDCCCCBBBBAAAA }",
        "reply: READ_REP, value: WRONGVALUE }",
        1,
    );
    let kit = kit_with_spec("alike", &spec);
    let (code, out, _) = common::grade_kit(&kit, &["--seed", "5"], hw1_solution());
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.matches("with value `DDDCCCCBBBBAAAA`; expected `WRONGVALUE`")
            .count(),
        3,
        "{out}"
    );
    assert!(out.contains("... and 2 more like it"), "{out}");
}

/// Waiting for datagrams from a program ends as soon as it has exited,
/// not at the test's time limit.
#[test]
fn waiting_for_datagrams_ends_when_the_sender_exits() {
    // The real `client-stopped` test, with a client that sends nothing.
    let spec = hw1_spec_with(&["client-stopped"]).replacen(
        "--timeout-ms, \"5000\"]",
        "--count, \"0\"]",
        1,
    );
    let kit = kit_with_spec("sender-gone", &spec);
    let (code, out, _) = common::grade_kit(&kit, &["--seed", "6"], hw1_solution());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("client sent 0 READ_REQs to server; the test waited for 2, until it exited with exit code 0"),
        "{out}"
    );
}

/// A run cut short reports its cause alone: not the peer the end of the
/// test interrupted, nor the program the grader had to kill.
#[test]
fn a_run_cut_short_reports_its_cause_alone() {
    let spec = "lab: hw1\ntitle: UDP echo\nbinaries: [server, client]\ntests:\n  - name: cut\n    description: a silent server; a client that never retransmits hangs\n    timeout: 1s\n    nodes:\n      - name: server\n        script:\n          - recv: { from: client, type: READ_REQ }\n          - silence: { for: 5s }\n      - name: client\n        run: client\n        args: [\"{peer:server}\", --seed, \"{seed}\"]\n    steps:\n      - start: server\n      - start: client\n      - wait_exit: client\n      - wait_exit: server\n    expect:\n      client: { exit: 0, stdout: [\"Request ID: 0\"] }\n";
    let kit = kit_with_spec("cut-short", spec);
    let (code, out, _) = common::grade_kit(
        &kit,
        &["--seed", "7"],
        &common::other_language("hw1-course"),
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("client did not exit within the test's time limit (1s)"),
        "{out}"
    );
    assert!(!out.contains("had not finished its script"), "{out}");
    assert!(!out.contains("still running"), "{out}");
    assert!(!out.contains("differs at line"), "{out}");
}
