use std::path::Path;

use super::super::{LabSpec, SpecError};

/// A test of replicas: two servers, a client that chooses among them
/// and is run twice, and a probe that reads the end state.
const REPLICAS: &str = "\
lab: hw5
title: replicas
binaries: [server, client]
tests:
  - name: end-state
    description: the servers agree
    nodes:
      - name: server
        run: server
        args: [\"{port}\"]
        count: 2
      - name: client
        run: client
        args: [\"{peers:server}\"]
      - name: probe
        script: []
    steps:
      - start: server
      - start: client
      - cut: { from: client, to: server0 }
      - heal_link: { from: client, to: server0 }
      - faults: { from: client, to: server1, drop: 0.5 }
      - wait_exit: client
      - restart: client
      - wait_exit: client
      - query: { by: probe, nodes: server, keys: { from: client, type: WRITE_REQ } }
      - stop: server
    wire:
      - replicas: { nodes: server }
      - choices:
          node: client
          line: \"key {key} to {chosen} of {first} and {second}\"
          peers: server
          request: READ_REQ
          reply: READ_REP
";

fn parse(text: &str) -> Result<LabSpec, SpecError> {
    LabSpec::parse(Path::new("labs/hw5/spec.yaml"), text)
}

/// The error of `REPLICAS` with `from` replaced by `to`; it must say
/// `says`, on the line of the first `at` from the test's name on.
fn rejected(from: &str, to: &str, says: &str, at: &str) {
    rejected_at(from, to, says, at, 0);
}

/// [`rejected`], on the line of occurrence `nth` (from 0) of `at`.
fn rejected_at(from: &str, to: &str, says: &str, at: &str, nth: usize) {
    assert!(REPLICAS.contains(from), "{from}");
    let text = REPLICAS.replacen(from, to, 1);
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains(says), "expected `{says}` in: {e}");
    let start = text
        .lines()
        .position(|l| l.contains("- name: end-state"))
        .unwrap();
    let line = text
        .lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| l.contains(at))
        .nth(nth)
        .unwrap()
        .0
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
}

#[test]
fn the_replicas_test_validates() {
    let s = parse(REPLICAS).unwrap();
    assert_eq!(s.tests[0].steps.len(), 12, "start and stop on each server");
}

#[test]
fn restart_before_the_node_ended_is_an_error() {
    rejected(
        "      - wait_exit: client\n      - restart: client\n",
        "      - restart: client\n",
        "`restart: client` needs `client` ended first: by `wait_exit`, `stop` or `kill`",
        "restart: client",
    );
    rejected(
        "      - restart: client\n",
        "      - restart: client\n      - restart: probe\n",
        "the step `restart` acts on `probe` before any step starts it",
        "restart: probe",
    );
    // Restarted, it runs: it must end again before another restart.
    rejected_at(
        "      - restart: client\n",
        "      - restart: client\n      - restart: client\n",
        "`restart: client` needs `client` ended first",
        "restart: client",
        1,
    );
}

#[test]
fn faults_with_only_one_end_of_a_link_is_an_error() {
    for only in ["{ from: client, drop: 0.5 }", "{ to: server1, drop: 0.5 }"] {
        rejected(
            "{ from: client, to: server1, drop: 0.5 }",
            only,
            "`faults` changes one link with both `from` and `to`, or every link with neither",
            "faults:",
        );
    }
    // Neither: every link.
    let text = REPLICAS.replacen(
        "{ from: client, to: server1, drop: 0.5 }",
        "{ drop: 0.5 }",
        1,
    );
    parse(&text).unwrap();
}

#[test]
fn fault_settings_are_checked_alike_wherever_they_are() {
    // The same settings under `network`: every link, or one named link.
    let network = |net: &str| {
        REPLICAS.replacen(
            "    steps:\n",
            &format!("    network:\n{net}    steps:\n"),
            1,
        )
    };
    let cases = [
        (
            "      faults: { from: client, drop: 0.5 }\n",
            "`network.faults` apply to every link",
        ),
        (
            "      links: [{ from: client, drop: 0.5 }]\n",
            "each of `network.links` names its link with `from` and `to`",
        ),
        (
            "      links: [{ from: client, to: client, drop: 0.5 }]\n",
            "a link joins two different nodes",
        ),
        (
            "      links: [{ from: client, to: server0, duplicate: 1.5 }]\n",
            "`duplicate` is a probability from 0 to 1, got 1.5",
        ),
        (
            "      faults: { drop: -1 }\n",
            "`drop` is a probability from 0 to 1, got -1",
        ),
    ];
    for (net, says) in cases {
        let e = parse(&network(net)).unwrap_err();
        assert!(e.message.contains(says), "expected `{says}` in: {e}");
    }
    rejected(
        "{ from: client, to: server1, drop: 0.5 }",
        "{ from: client, to: server1, drop: 2 }",
        "`drop` is a probability from 0 to 1, got 2",
        "faults:",
    );
    parse(&network(
        "      faults: { drop: 0.1 }\n      links: [{ from: client, to: server0, jitter: 5ms }]\n",
    ))
    .unwrap();
}

#[test]
fn a_query_by_a_program_is_an_error() {
    rejected(
        "by: probe",
        "by: client",
        "`query` asks from a scripted node's address, and `client` is a program",
        "query:",
    );
}

#[test]
fn replicas_without_a_query_step_is_an_error() {
    rejected(
        "      - query: { by: probe, nodes: server, keys: { from: client, type: WRITE_REQ } }\n",
        "",
        "`replicas` compares the answers of a `query` step, and the test has none",
        "replicas",
    );
}

#[test]
fn a_choices_line_without_chosen_is_an_error() {
    rejected(
        "to {chosen} of",
        "to {pick} of",
        "has no `{chosen}`",
        "line: \"key {key} to {pick}",
    );
}

#[test]
fn a_link_from_a_node_to_itself_is_an_error() {
    rejected(
        "cut: { from: client, to: server0 }",
        "cut: { from: client, to: client }",
        "a link joins two different nodes, not `client` and itself",
        "cut:",
    );
    rejected(
        "heal_link: { from: client, to: server0 }",
        "heal_link: [server0, server0]",
        "a link joins two different nodes, not `server0` and itself",
        "heal_link:",
    );
    rejected(
        "cut: { from: client, to: server0 }",
        "cut: { from: client, to: server }",
        "no node `server` in this test",
        "cut:",
    );
}
