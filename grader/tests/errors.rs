//! Bad input gets a clear error and exit status 2: a broken spec (with
//! file, line and column), an unknown lab or test, a missing executable.

mod common;
use common::{TempDir, grader, root, run};

/// A kit in a temporary directory whose hw1 spec is `spec`.
fn kit_with_spec(name: &str, spec: &str) -> TempDir {
    let dir = TempDir::new(name);
    let lab = dir.0.join("labs/hw1-udp-echo");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(lab.join("spec.yaml"), spec).unwrap();
    dir
}

fn hw1_spec() -> String {
    std::fs::read_to_string(root().join("labs/hw1-udp-echo/spec.yaml")).unwrap()
}

/// A misspelt field is reported as file:line:column with the accepted fields.
#[test]
fn a_misspelt_field_is_located() {
    let spec = hw1_spec().replacen("    hint: >-", "    hnit: >-", 1);
    let line = spec.lines().position(|l| l.contains("hnit:")).unwrap() + 1;
    let kit = kit_with_spec("typo", &spec);
    let (code, _, err) =
        run(grader()
            .arg("--root")
            .arg(&kit.0)
            .args(["hw1", "--bin-dir", "/nonexistent"]));
    assert_eq!(code, 2, "{err}");
    let want = format!("spec.yaml:{line}:5: tests[0]: unknown field `hnit`, expected one of");
    assert!(err.contains(&want), "expected `{want}` in:\n{err}");
}

/// A step naming a node the test does not have is located at that name.
#[test]
fn an_unknown_node_is_located() {
    let spec = hw1_spec().replacen("      - stop: server", "      - stop: sevrer", 1);
    let line = spec
        .lines()
        .position(|l| l.contains("stop: sevrer"))
        .unwrap()
        + 1;
    let kit = kit_with_spec("node", &spec);
    let (code, _, err) =
        run(grader()
            .arg("--root")
            .arg(&kit.0)
            .args(["hw1", "--bin-dir", "/nonexistent"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "spec.yaml:{line}:15: test `echo` has no node `sevrer`"
        )),
        "{err}"
    );
}

/// Invalid YAML is reported with its place too.
#[test]
fn broken_yaml_is_located() {
    let kit = kit_with_spec("yaml", "lab: hw1\ntitle: \"unclosed\n");
    let (code, _, err) =
        run(grader()
            .arg("--root")
            .arg(&kit.0)
            .args(["hw1", "--bin-dir", "/nonexistent"]));
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

/// Bad arguments are a usage error with status 2.
#[test]
fn bad_arguments_are_a_usage_error() {
    let (code, _, err) = run(grader().args(["hw1", "--repeat", "0"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&mut grader());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("name a lab to grade"), "{err}");
}

/// `grader list` shows every lab and test.
#[test]
fn list_shows_the_tests() {
    let (code, out, _) = run(grader().arg("list"));
    assert_eq!(code, 0);
    assert!(out.contains("hw1  UDP echo  (labs/hw1-udp-echo)"), "{out}");
    assert!(out.contains("    loss "), "{out}");
}

/// A lab that does not compile shows the compiler's error and fails every test (exit 1).
#[test]
fn a_lab_that_does_not_build_shows_the_compiler_error() {
    let kit = kit_with_spec("nobuild", &hw1_spec());
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
    assert!(out.trim_end().ends_with("0 passed, 10 failed"), "{out}");
}

/// `--root DIR` works before a command as well as after it.
#[test]
fn root_may_come_before_a_command() {
    let (code, out, err) = run(grader().arg("--root").arg(root()).arg("list"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hw1  UDP echo"), "{out}");
}
