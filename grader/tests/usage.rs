//! Help and argument errors name the program as the user called it:
//! `grader`, or `cargo grader` through the kit's alias, never the keeper's
//! `/proc/self/exe`.

mod common;
use common::{TempDir, grader, root, run};

/// The usage lines of a help or error text: `Usage: grader [OPTIONS] [LAB]`
/// and the alternatives under it, each as the words after `Usage:`.
fn usage(text: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("Usage: "));
    let Some(first) = lines.next() else {
        return Vec::new();
    };
    let mut all = vec![first.trim_start_matches("Usage: ").to_string()];
    all.extend(
        lines
            .take_while(|l| l.starts_with("       "))
            .map(|l| l.trim().to_string()),
    );
    all
}

/// Every usage line starts with `program`; prints the text if not.
fn assert_usage(text: &str, program: &str) {
    let lines = usage(text);
    assert!(!lines.is_empty(), "no usage in:\n{text}");
    for l in &lines {
        assert!(
            l.starts_with(&format!("{program} ")),
            "expected usage of `{program}`, found `{l}` in:\n{text}"
        );
        assert!(!l.starts_with("exe "), "the keeper's name leaked:\n{text}");
    }
}

/// `grader --help` says `Usage: grader`.
#[test]
fn help_names_the_grader() {
    let (code, out, err) = run(grader().arg("--help"));
    assert_eq!(code, 0, "{err}");
    assert_usage(&out, "grader");
    assert!(out.contains("Usage: grader [OPTIONS] [LAB]\n"), "{out}");
}

/// A subcommand's help names the grader and the subcommand.
#[test]
fn a_subcommands_help_names_the_grader() {
    let (code, out, err) = run(grader().args(["check", "--help"]));
    assert_eq!(code, 0, "{err}");
    assert_usage(&out, "grader check");
}

/// A bad argument is refused with status 2 and `Usage: grader`.
#[test]
fn an_argument_error_names_the_grader() {
    let cases: [(&[&str], &str); 4] = [
        (&["--bogus"], "grader"),
        (&["hw1", "--solutions", "--bin-dir", "bin"], "grader"),
        (&["check", "--nope"], "grader check"),
        (&["generate"], "grader generate"),
    ];
    for (args, program) in cases {
        let (code, out, err) = run(grader().args(args));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_usage(&err, program);
    }
}

/// Through the kit's alias (cargo sets `CARGO` and runs the grader from
/// the kit's target directory), help and errors say `cargo grader`.
#[test]
fn through_the_alias_help_and_errors_name_cargo_grader() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (code, out, _) = run(grader().env("CARGO", &cargo).arg("--help"));
    assert_eq!(code, 0);
    assert_usage(&out, "cargo grader");
    let (code, _, err) = run(grader().env("CARGO", &cargo).arg("--bogus"));
    assert_eq!(code, 2);
    assert_usage(&err, "cargo grader");
}

/// Called by another name (a link), the grader goes by that name: the
/// keeper passes its `argv[0]` on to the real grader.
#[test]
fn a_link_gives_the_grader_its_name() {
    let dir = TempDir::new("usage-link");
    let link = dir.0.join("autograde");
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("grader"), &link).unwrap();
    let out = std::process::Command::new(&link)
        .arg("--bogus")
        .current_dir(root())
        .env_remove("CARGO")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_usage(&err, "autograde");
}
