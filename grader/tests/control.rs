//! Node control in the middle of a test: pausing, killing and restarting a
//! node, a scripted one as well as a program, on hw1's reference programs.

mod common;

use common::{grade_kit, hw1_solution, kit_with_spec};

/// A spec of one test, `control`, with these nodes, steps and checks.
fn spec(body: &str) -> String {
    format!(
        "lab: hw1\ntitle: control\nbinaries: [server, client]\ntimeout: 10s\ntests:\n  - name: control\n    description: node control\n{body}"
    )
}

/// The grader plays hw1's server: it answers every READ_REQ.
const ECHO: &str = "      - name: server
        script:
          - serve:
              rules:
                - on: READ_REQ
                  reply: { type: READ_REP, value: DDDCCCCBBBBAAAA }
";

/// A client that sends one request, every `ms` milliseconds, `tries` times.
fn client(name: &str, ms: u32, tries: u32) -> String {
    format!(
        "      - {{ name: {name}, run: client, args: [\"{{peer:server}}\", --seed, \"{{seed}}\", --count, \"1\", --timeout-ms, \"{ms}\", --tries, \"{tries}\"] }}\n"
    )
}

/// Long enough for a live server's answer on any machine: a client with
/// this timeout does not send again while an answer is on its way.
const PATIENT: u32 = 2000;

/// A paused scripted server reads nothing until it is resumed: the client
/// has to send again; a killed one answers nothing, and once restarted it
/// answers from the first step of its script.
#[test]
fn a_scripted_node_pauses_dies_and_comes_back() {
    // Clients in a hurry: the grader's server is paused or dead when they
    // ask, so they must send again, or give up, soon.
    let nodes = |first: u32, orphan: u32| {
        format!(
            "    nodes:\n{ECHO}{}{}{}",
            client("first", first, 40),
            client("orphan", orphan, 2),
            client("last", 50, 40)
        )
    };
    let steps = "    steps:
      - start: server
      - pause: server
      - start: first
      - wait_sent: { from: first, to: server, count: 3 }
      - resume: server
      - wait_exit: first
      - kill: server
      - start: orphan
      - wait_exit: orphan
      - restart: server
      - start: last
      - wait_exit: last
      - wait_exit: server
";
    let checks = "    expect:
      first: { exit: 0 }
      orphan: { exit: nonzero }
      last: { exit: 0 }
    wire:
      - count: { from: server, to: orphan, max: 0 }
      - count: { from: server, to: last, min: 1 }
";
    let kit = kit_with_spec(
        "control-scripted",
        &spec(&format!("{}{steps}{checks}", nodes(50, 50))),
    );
    let (code, out, err) = grade_kit(&kit, &["--seed", "3", "-v"], hw1_solution());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");

    // Without the pause, one request is answered at once: no third copy
    // (the client is patient, so that only a pause can make it send again).
    let unpaused = spec(&format!(
        "{}{}{checks}",
        nodes(PATIENT, 50),
        steps.replace("      - pause: server\n", "")
    ));
    let kit = kit_with_spec("control-unpaused", &unpaused);
    let (code, out, _) = grade_kit(&kit, &["--seed", "3"], hw1_solution());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("first sent 1 datagram to server; the test waited for 3"),
        "{out}"
    );

    // Without the kill, the orphan (patient now) gets its answer.
    let alive = spec(&format!(
        "{}{}{checks}",
        nodes(50, PATIENT),
        steps
            .replace("      - kill: server\n", "")
            .replace("      - restart: server\n", "")
    ));
    let kit = kit_with_spec("control-alive", &alive);
    let (code, out, _) = grade_kit(&kit, &["--seed", "3"], hw1_solution());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("orphan exited with exit code 0"), "{out}");
}

/// A program killed and restarted runs again with the same command line and
/// port, and `exit` judges its last run.
#[test]
fn a_program_restarts_on_its_port() {
    let body = "    nodes:
      - { name: server, run: server, args: [\"{port}\"] }
      - { name: client, run: client, args: [\"{peer:server}\", --seed, \"{seed}\", --count, \"2\", --timeout-ms, \"50\", --tries, \"40\"] }
    steps:
      - start: server
      - kill: server
      - restart: server
      - start: client
      - wait_exit: client
      - stop: server
    expect:
      client: { exit: 0 }
      server: { exit: 0 }
";
    let kit = kit_with_spec("control-restart", &spec(body));
    let (code, out, err) = grade_kit(&kit, &["--seed", "4"], hw1_solution());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    // The first run was killed: without the restart, nothing answers.
    let kit = kit_with_spec(
        "control-no-restart",
        &spec(
            &body
                .replace("      - restart: server\n", "")
                .replace("      - stop: server\n", ""),
        )
        .replace("      server: { exit: 0 }\n", ""),
    );
    let (code, out, _) = grade_kit(&kit, &["--seed", "4"], hw1_solution());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("client exited with exit code 1"), "{out}");
}
