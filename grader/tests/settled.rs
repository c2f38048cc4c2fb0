//! The end state is read settled: a `query` reads a node once nothing is
//! on its way to it, so a forward the network still holds is not mistaken
//! for one the program never applied.

mod common;
use common::{kit_with_spec, other_language};

/// Two scripted replicas; the write to the second is held `held` on the
/// way; the query reads both, waiting up to `within`.
fn spec(held: &str, within: &str) -> String {
    format!(
        r#"lab: hw1
title: settled reads
binaries: [server, client]
timeout: 10s
tests:
  - name: settled
    description: a write is held on its way to one replica; the query reads it once it arrived
    nodes:
      - name: replica
        count: 2
        script:
          - serve:
              initial: OLDVALUE
              rules:
                - on: WRITE_REQ
                  store: true
                - on: READ_REQ
                  reply: {{ type: READ_REP, value: "{{stored}}" }}
      - name: writer
        script:
          - send: {{ to: replica0, type: WRITE_REQ, key: KEYKEYKEYKEYKEY, value: NEWVALUE }}
          - send: {{ to: replica1, type: WRITE_REQ, key: KEYKEYKEYKEYKEY, value: NEWVALUE }}
      - name: bystander
        run: server
        args: ["{{port}}"]
      - name: probe
        script: []
    network:
      rules:
        - delay: {{ from: writer, to: replica1, type: WRITE_REQ, by: {held} }}
    steps:
      - start: bystander
      - start: replica
      - start: writer
      - wait_exit: writer
      - query: {{ by: probe, nodes: replica, keys: {{ from: writer, type: WRITE_REQ }}, within: {within} }}
      - stop: bystander
      - wait_exit: replica
    wire:
      - replicas: {{ nodes: replica }}
"#
    )
}

/// Without the wait, the second replica is read before the write reaches
/// it, and the replicas seem to disagree.
#[test]
fn a_query_waits_for_what_is_in_flight_to_the_nodes_it_reads() {
    let kit = kit_with_spec("settled", &spec("400ms", "5s"));
    let (code, out, err) =
        common::grade_kit(&kit, &["--seed", "1", "-v"], &other_language("hw1-python"));
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
}

/// A node that never settles within the query's window is named, with
/// what is still on its way.
#[test]
fn a_system_that_does_not_settle_is_named() {
    let kit = kit_with_spec("unsettled", &spec("8s", "1s"));
    let (code, out, err) = common::grade_kit(&kit, &["--seed", "1"], &other_language("hw1-python"));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains(
            "the grader could not read the end state: after 1s, 1 datagram(s) were still on their way to replica0, replica1"
        ),
        "{out}"
    );
}
