//! Bad input gets a clear error and exit status 2: a broken spec (with
//! file, line and column), an unknown lab or test, a missing executable.

mod common;
use common::{TempDir, grader, hw1_spec, hw1_spec_with, kit_with_spec, root, run};

/// Grades hw1 of a temporary kit with executables that do not exist: a
/// spec error must be reported before anything is built or run.
fn spec_error(name: &str, spec: &str) -> (i32, String) {
    let kit = kit_with_spec(name, spec);
    let (code, _, err) = common::grade_kit(&kit, &[], std::path::Path::new("/nonexistent"));
    (code, err)
}

/// The 1-based line of the first line containing `needle`.
fn line_of(spec: &str, needle: &str) -> usize {
    spec.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// A misspelt field is reported as file:line:column with the accepted fields.
#[test]
fn a_misspelt_field_is_located() {
    let spec = hw1_spec().replacen("    hint: >-", "    hnit: >-", 1);
    let (code, err) = spec_error("typo", &spec);
    assert_eq!(code, 2, "{err}");
    let want = format!(
        "spec.yaml:{}:5: tests[0]: unknown field `hnit`, expected one of",
        line_of(&spec, "hnit:")
    );
    assert!(err.contains(&want), "expected `{want}` in:\n{err}");
}

/// A step naming a node the test does not have is located at that name.
#[test]
fn an_unknown_node_is_located() {
    let spec = hw1_spec().replacen("      - stop: server", "      - stop: sevrer", 1);
    let (code, err) = spec_error("node", &spec);
    assert_eq!(code, 2, "{err}");
    let want = format!(
        "spec.yaml:{}:15: test `echo` has no node `sevrer`",
        line_of(&spec, "stop: sevrer")
    );
    assert!(err.contains(&want), "expected `{want}` in:\n{err}");
}

/// A scripted node started twice is a spec error at the second start, not a panic.
#[test]
fn a_node_started_twice_is_a_spec_error() {
    let spec = hw1_spec_with(&["gives-up"]).replacen(
        "      - start: client\n",
        "      - start: client\n      - start: server\n",
        1,
    );
    let (code, err) = spec_error("twice", &spec);
    assert_eq!(code, 2, "{err}");
    let second = spec
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("- start: server"))
        .nth(1)
        .unwrap()
        .0
        + 1;
    let want = format!("spec.yaml:{second}:9: node `server` is started twice: a node starts once");
    assert!(err.contains(&want), "expected `{want}` in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Acting on a node before any step starts it is a spec error.
#[test]
fn acting_before_starting_is_a_spec_error() {
    let spec = hw1_spec_with(&["idle-cpu"]).replacen(
        "      - start: server\n      - idle:",
        "      - idle:",
        1,
    );
    let (code, err) = spec_error("early", &spec);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the step `idle` acts on `server` before any step starts it"),
        "{err}"
    );
}

/// A placeholder without a value, and a binding no recv makes, are located spec errors.
#[test]
fn unknown_placeholders_are_spec_errors() {
    let spec = hw1_spec_with(&["echo"]).replacen("{peer:server}", "{peer:srv}", 1);
    let (code, err) = spec_error("peer", &spec);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("test `echo` has no node `srv`"), "{err}");
    let spec =
        hw1_spec_with(&["gives-up"]).replacen("key: \"{r0.key}\" }", "key: \"{r9.key}\" }", 1);
    let (code, err) = spec_error("binding", &spec);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`r9` is not bound by a `recv` with `as: r9` before this step"),
        "{err}"
    );
}

/// A network rule that cannot be satisfied as written is a spec error.
#[test]
fn a_bad_rule_is_a_spec_error() {
    let spec = hw1_spec_with(&["loss"]).replacen("nth: [1] }", "nth: [0] }", 1);
    let (code, err) = spec_error("rule", &spec);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`nth` counts from 1"), "{err}");
    let spec = hw1_spec_with(&["duplicates-and-reordering"]).replacen(", by: 300ms }", " }", 1);
    let (code, err) = spec_error("delay", &spec);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a `delay` rule needs `by`"), "{err}");
}

/// A spec must say the lab it belongs to: `lab:` is its directory's id.
#[test]
fn a_spec_of_another_lab_is_refused() {
    let spec = hw1_spec().replacen("\nlab: hw1\n", "\nlab: hw2\n", 1);
    let (code, err) = spec_error("lab", &spec);
    assert_eq!(code, 2, "{err}");
    let want = format!(
        "spec.yaml:{}:1: `lab: hw2`, but the spec is lab hw1's",
        line_of(&spec, "lab: hw2")
    );
    assert!(err.contains(&want), "expected `{want}` in:\n{err}");
}

/// Mistakes a script would only meet at run time are refused when the spec loads.
#[test]
fn script_mistakes_are_refused_when_the_spec_loads() {
    let base = hw1_spec_with(&["malformed-datagrams", "gives-up", "idle-cpu"]);
    for (from, to, message) in [
        (
            "text: \"hello\" }",
            "text: \"hello\", len: 3 }",
            "`len` cuts a record built from `type`; `hex` and `text` are sent whole",
        ),
        (
            "key: AAAAAAAAAAAAAAB,",
            "key: AAAAAAAAAAAAAAAAAAAB,",
            "`AAAAAAAAAAAAAAAAAAAB` is 20 bytes long: a key or value holds at most 15 bytes",
        ),
        (
            "as: r0 }",
            "as: \"r 0\" }",
            "`as: r 0`: a name is letters, digits, `_` and `-`",
        ),
        (
            "      - stop: server\n    expect:\n      server: { exit: 0 }",
            "      - stop: server\n      - signal: { node: server, signal: SIGTERM }\n    expect:\n      server: { exit: 0 }",
            "the step `signal` acts on `server`, which has already ended by this step",
        ),
    ] {
        let spec = base.replacen(from, to, 1);
        assert_ne!(spec, base, "{from}");
        let (code, err) = spec_error("script", &spec);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(message), "expected `{message}` in:\n{err}");
    }
}

/// Invalid YAML is reported with its place too.
#[test]
fn broken_yaml_is_located() {
    let (code, err) = spec_error("yaml", "lab: hw1\ntitle: \"unclosed\n");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "spec.yaml:3:1: found unexpected end of stream, while scanning a quoted scalar"
        ),
        "{err}"
    );
}

/// An unknown lab lists the labs there are.
#[test]
fn an_unknown_lab_lists_the_labs() {
    let (code, _, err) = run(grader().arg("hw9"));
    assert_eq!(code, 2);
    assert!(
        err.contains("grader: there is no lab `hw9` (labs: hw1"),
        "{err}"
    );
}

/// An unknown test lists the lab's tests.
#[test]
fn an_unknown_test_lists_the_tests() {
    let dir = TempDir::new("unknown-test");
    for b in ["server", "client"] {
        std::fs::write(dir.0.join(b), "").unwrap();
    }
    let (code, _, err) = run(grader()
        .args(["hw1", "-t", "nope", "--bin-dir"])
        .arg(&dir.0));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("lab hw1 has no test `nope` (its tests: echo,"),
        "{err}"
    );
}

/// A --bin-dir without the lab's executables says which are needed.
#[test]
fn a_missing_executable_is_named() {
    let dir = TempDir::new("missing");
    let (code, _, err) = run(grader().args(["hw1", "--bin-dir"]).arg(&dir.0));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/server is missing: lab hw1 needs the executables server, client"),
        "{err}"
    );
}

/// An executable that cannot be started fails its test with the reason, not the grader.
#[test]
fn a_program_that_cannot_start_is_explained() {
    let dir = TempDir::new("noexec");
    for b in ["server", "client"] {
        std::fs::write(dir.0.join(b), "not a program\n").unwrap();
    }
    let (code, out, err) = run(grader()
        .args(["hw1", "-t", "echo", "--seed", "1", "--bin-dir"])
        .arg(&dir.0));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("cannot start server ("), "{out}");
    assert!(
        out.contains("EACCES: permission denied: is it executable (chmod +x)?"),
        "{out}"
    );
}

/// Bad arguments are a usage error with status 2.
#[test]
fn bad_arguments_are_a_usage_error() {
    let (code, _, err) = run(grader().args(["hw1", "--repeat", "0"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(grader().args(["hw1", "--format", "xml"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("possible values: human, json, junit, gradescope"),
        "{err}"
    );
    let (code, _, err) = run(&mut grader());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("name a lab to grade"), "{err}");
}

/// `grader list` shows every lab and test, with points.
#[test]
fn list_shows_the_tests() {
    let (code, out, _) = run(grader().arg("list"));
    assert_eq!(code, 0);
    assert!(out.contains("hw1  UDP echo  (labs/hw1-udp-echo, "), "{out}");
    assert!(out.contains("    loss "), "{out}");
    assert!(out.contains(" robust    1 pt  "), "{out}");
}

/// A lab that does not compile shows the compiler's error and fails every test (exit 1).
#[test]
fn a_lab_that_does_not_build_shows_the_compiler_error() {
    let spec = hw1_spec();
    let tests = common::hw1_tests();
    let kit = kit_with_spec("nobuild", &spec);
    let lab = kit.0.join("labs/hw1-udp-echo");
    std::fs::write(
        lab.join("Cargo.toml"),
        "[package]\nname = \"broken-lab\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [[bin]]\nname = \"server\"\npath = \"main.rs\"\n\n[[bin]]\nname = \"client\"\npath = \"main.rs\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        lab.join("main.rs"),
        "fn main() {\n    let port: u16 = \"5001\";\n}\n",
    )
    .unwrap();
    let (code, out, err) = run(grader()
        .arg("--root")
        .arg(&kit.0)
        .args(["hw1", "--seed", "1"]));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("hw1 UDP echo — labs/hw1-udp-echo: does not build"),
        "{out}"
    );
    assert!(out.contains("error[E0308]: mismatched types"), "{out}");
    assert!(out.contains("main.rs:2:"), "{out}");
    assert!(
        out.trim_end()
            .ends_with(&format!("0 passed, {tests} failed")),
        "{out}"
    );
    // Cargo's progress reaches the terminal while it builds.
    assert!(err.contains("Compiling broken-lab v0.1.0"), "{err}");
}

/// `--root DIR` works before a command as well as after it.
#[test]
fn root_may_come_before_a_command() {
    let (code, out, err) = run(grader().arg("--root").arg(root()).arg("list"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hw1  UDP echo"), "{out}");
}

/// A start-up limit of 0 would fail every listening program: it is a spec
/// error, located.
#[test]
fn a_start_up_limit_of_zero_is_a_spec_error() {
    let spec =
        hw1_spec_with(&["echo"]).replacen("\ntests:\n", "\nlimits:\n  startup: 0s\n\ntests:\n", 1);
    let (code, err) = spec_error("startup-zero", &spec);
    assert_eq!(code, 2, "{err}");
    let want = format!(
        "spec.yaml:{}:3: `limits.startup` of 0 leaves a program no time to start",
        line_of(&spec, "startup: 0s")
    );
    assert!(err.contains(&want), "expected `{want}` in:\n{err}");
}

/// A spec in YAML flow style, with odd spacing and quoted keys, has its
/// errors located at the node they are about.
#[test]
fn errors_in_flow_style_are_located() {
    let spec = "\
lab: hw1
title: UDP echo
binaries: [server, client]
tests:
  - {name: echo, description: the client gets its replies,
     nodes: [ {name: server, run: server, args: [\"{port}\"]}, { \"name\" :  client, 'run': client, args: [\"{peer:server}\"] } ],
     steps: [ {start:   server}, {  start : client }, {wait_exit: client}, {  start : server } ] }
";
    let (code, err) = spec_error("flow", spec);
    assert_eq!(code, 2, "{err}");
    let want = "spec.yaml:7:76: node `server` is started twice: a node starts once";
    assert!(err.contains(want), "expected `{want}` in:\n{err}");
    let spec = spec.replacen("'run': client", "'run':   clint", 1);
    let (code, err) = spec_error("flow-run", &spec);
    assert_eq!(code, 2, "{err}");
    let want = "spec.yaml:6:91: node `client` runs `clint`, which is not one of the lab's binaries";
    assert!(err.contains(want), "expected `{want}` in:\n{err}");
}

/// A `load` step with a share out of range, no client, or a node with no
/// port is a located spec error.
#[test]
fn bad_load_steps_are_spec_errors() {
    let base = hw1_spec_with(&["speed"]);
    let step = "load: { node: server, workload: echo, clients: 4, for: 200ms, at_least: 0.1 }";
    assert!(base.contains(step), "the speed test changed: {base}");
    for (name, load, want) in [
        (
            "share",
            "load: { node: server, workload: echo, for: 600ms, at_least: 1.5 }",
            "`at_least: 1.5`: a share of the grader's own server's speed, above 0 and at most 1",
        ),
        (
            "clients",
            "load: { node: server, workload: echo, clients: 0, for: 400ms, at_least: 0.1 }",
            "`clients: 0`: from 1 to 64",
        ),
        (
            "window",
            "load: { node: server, workload: echo, for: 0s, at_least: 0.1 }",
            "`load` needs a window longer than 0",
        ),
        (
            "workload",
            "load: { node: server, workload: chat, for: 1s, at_least: 0.1 }",
            "workload",
        ),
    ] {
        let (code, err) = spec_error(name, &base.replacen(step, load, 1));
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(want), "{name}: expected `{want}` in:\n{err}");
        assert!(err.contains("spec.yaml:"), "{name}: no place in:\n{err}");
    }
    let portless = base.replacen("args: [\"{port}\"]", "args: [\"7\"]", 1);
    let (code, err) = spec_error("portless", &portless);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`load` sends to server's port, but server has none"),
        "{err}"
    );
}
