use super::*;

const SOLUTION: &str = "\
fn bind_server(port: u16) -> nix::Result<OwnedFd> {
    // hole: bind the server socket
    // TODO: Create a UDP socket with socket(2) and bind it to 127.0.0.1:`port`
    //       with bind(2). Return the socket.
    let fd = socket(...)?;
    bind(...)?;
    Ok(fd)
    // end hole
}
";

const SKELETON: &str = "\
fn bind_server(port: u16) -> nix::Result<OwnedFd> {
    // TODO: Create a UDP socket with socket(2) and bind it to 127.0.0.1:`port`
    //       with bind(2). Return the socket.
    todo!(\"bind the server socket\")
}
";

fn rs(text: &str) -> Result<(String, Vec<Hole>), SkeletonError> {
    generate_text(Path::new("src/main.rs"), text)
}

/// The error's line and message, for the error-case tests.
fn rs_error(text: &str) -> (usize, String) {
    let e = rs(text).unwrap_err();
    assert_eq!(e.file, Path::new("src/main.rs"));
    (e.line, e.message)
}

#[test]
fn hole_becomes_todo_with_its_comments() {
    let (text, holes) = rs(SOLUTION).unwrap();
    assert_eq!(text, SKELETON);
    assert_eq!(
        holes,
        vec![Hole {
            file: "src/main.rs".into(),
            line: 4,
            name: "bind the server socket".into(),
        }]
    );
}

#[test]
fn todo_takes_the_marker_indentation_and_code_outside_holes_stays() {
    let solution = "\
mod a {
        // hole: deep
        // TODO: fill in
    x();
    // end hole
}
// hole: top
// TODO: more
y();
// end hole
";
    let (text, holes) = rs(solution).unwrap();
    assert_eq!(
        text,
        "mod a {\n        // TODO: fill in\n        todo!(\"deep\")\n}\n// TODO: more\ntodo!(\"top\")\n"
    );
    assert_eq!(holes.iter().map(|h| h.line).collect::<Vec<_>>(), [3, 6]);
}

#[test]
fn only_the_comments_right_after_the_marker_stay() {
    let solution = "    // hole: h
    // TODO: one
    // two
    let a = 1;
    // a comment in the solution's code
    // end hole
";
    let (text, _) = rs(solution).unwrap();
    assert_eq!(text, "    // TODO: one\n    // two\n    todo!(\"h\")\n");
}

#[test]
fn skeleton_lines_inside_a_hole_come_before_the_todo() {
    let solution = "    // hole: h
    // TODO: use the port
    // skeleton: let _ = port;
    send(port);
    // end hole
";
    let (text, _) = rs(solution).unwrap();
    assert_eq!(
        text,
        "    // TODO: use the port\n    let _ = port;\n    todo!(\"h\")\n"
    );
}

#[test]
fn solution_only_and_skeleton_lines_in_rust() {
    let solution = "\
use std::net::UdpSocket; // solution-only
    // skeleton: #[allow(unused)]
fn main() {}
// skeleton:
// solution-only is not at the end here
";
    let (text, holes) = rs(solution).unwrap();
    assert_eq!(
        text,
        "    #[allow(unused)]\nfn main() {}\n\n// solution-only is not at the end here\n"
    );
    assert!(holes.is_empty());
}

#[test]
fn solution_only_and_skeleton_lines_in_toml() {
    let solution = "\
[dependencies]
nix = { version = \"0.29\", features = [\"socket\"] }
rand = \"0.8\" # solution-only
  # skeleton: handout = { path = \"../handout\" }
// hole: not a hole in toml
";
    let (text, holes) = generate_text(Path::new("Cargo.toml"), solution).unwrap();
    assert_eq!(
        text,
        "[dependencies]\nnix = { version = \"0.29\", features = [\"socket\"] }\n  \
             handout = { path = \"../handout\" }\n// hole: not a hole in toml\n"
    );
    assert!(holes.is_empty());
}

#[test]
fn other_files_are_unchanged() {
    let readme = "# skeleton: a heading\nline # solution-only\n";
    let (text, _) = generate_text(Path::new("README.md"), readme).unwrap();
    assert_eq!(text, readme);
}

#[test]
fn line_endings_are_kept() {
    let solution = "a\r\n// hole: h\r\n// TODO: t\r\nx\r\n// end hole\r\nb";
    let (text, _) = rs(solution).unwrap();
    assert_eq!(text, "a\r\n// TODO: t\r\ntodo!(\"h\")\r\nb");
    let (text, _) = rs("// hole: h\n// TODO: t\n// end hole").unwrap();
    assert_eq!(text, "// TODO: t\ntodo!(\"h\")\n");
}

#[test]
fn nested_hole_is_an_error() {
    let (line, message) = rs_error("// hole: a\n// TODO: t\n  // hole: b\n// end hole\n");
    assert_eq!(line, 3);
    assert!(
        message.contains("inside hole `a` (opened on line 1)"),
        "{message}"
    );
}

#[test]
fn unclosed_hole_is_an_error_at_its_marker() {
    let (line, message) = rs_error("fn f() {\n  // hole: a\n  // TODO: t\n  x\n}\n");
    assert_eq!(
        (line, message.as_str()),
        (
            2,
            "hole `a` is never closed: add `// end hole` after its code"
        )
    );
}

#[test]
fn end_without_hole_is_an_error() {
    let (line, message) = rs_error("a\nb\n  // end hole\n");
    assert_eq!(
        (line, message.as_str()),
        (3, "`// end hole` without an open hole")
    );
}

#[test]
fn bad_names_are_errors() {
    let (line, message) = rs_error("x\n// hole:   \n// TODO: t\n// end hole\n");
    assert_eq!(line, 2);
    assert!(message.starts_with("a hole needs a name"), "{message}");
    for name in ["say \"hi\"", "a\\b", "{x}"] {
        let (line, message) = rs_error(&format!("// hole: {name}\n// TODO: t\n// end hole\n"));
        assert_eq!(line, 1);
        assert!(message.contains("may not contain"), "{message}");
    }
}

#[test]
fn same_name_twice_is_an_error() {
    let twice = "// hole: a\n// TODO: t\n// end hole\n\n// hole: a\n// TODO: t\n// end hole\n";
    let (line, message) = rs_error(twice);
    assert_eq!(line, 5);
    assert!(message.contains("already used on line 1"), "{message}");
}

#[test]
fn hole_without_todo_is_an_error() {
    for text in [
        "f();\n// hole: a\nx();\n// end hole\n",
        "f();\n// hole: a\n// just a comment\n// end hole\n",
        "f();\n// hole: a\n// end hole\n",
    ] {
        let (line, message) = rs_error(text);
        assert_eq!(line, 2);
        assert!(message.contains("needs a `// TODO:` line"), "{message}");
    }
}

#[test]
fn error_display_has_file_and_line() {
    let e = rs("// end hole\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "src/main.rs:1: `// end hole` without an open hole"
    );
}

/// A directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("grader-skeleton-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn put(&self, relative: &str, contents: &[u8]) {
        let path = self.0.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A small solution crate: code with a hole, a manifest, a binary file,
/// and things generation must skip.
fn solution(test: &str) -> TempDir {
    let dir = TempDir::new(test);
    dir.put("solution/src/main.rs", SOLUTION.as_bytes());
    dir.put(
        "solution/src/lib.rs",
        b"// hole: other\n// TODO: t\nx\n// end hole\n",
    );
    dir.put(
        "solution/Cargo.toml",
        b"[package]\nname = \"hw1\"\nrand = \"1\" # solution-only\n",
    );
    dir.put("solution/data.bin", &[0xff, 0xfe, 0x00]);
    dir.put("solution/target/debug/hw1", b"binary");
    dir.put("solution/.gitignore", b"target\n");
    dir.put("solution/spec.yaml", b"lab: hw1\n");
    dir.put("solution/mutants.yaml", b"mutants: []\n");
    dir.put("solution/hidden.yaml", b"lab: hw1\ntests: []\n");
    dir
}

#[test]
fn generate_walks_the_crate_in_order() {
    let dir = solution("generate");
    let skeleton = generate(&dir.0.join("solution")).unwrap();
    let files: Vec<&Path> = skeleton.files.keys().map(PathBuf::as_path).collect();
    assert_eq!(
        files,
        [
            Path::new("Cargo.toml"),
            Path::new("data.bin"),
            Path::new("src/lib.rs"),
            Path::new("src/main.rs")
        ]
    );
    assert_eq!(
        skeleton.files[Path::new("src/main.rs")],
        SKELETON.as_bytes()
    );
    assert_eq!(
        skeleton.files[Path::new("Cargo.toml")],
        b"[package]\nname = \"hw1\"\n"
    );
    assert_eq!(skeleton.files[Path::new("data.bin")], [0xff, 0xfe, 0x00]);
    let holes: Vec<(&Path, &str)> = skeleton
        .holes
        .iter()
        .map(|h| (h.file.as_path(), h.name.as_str()))
        .collect();
    assert_eq!(
        holes,
        [
            (Path::new("src/lib.rs"), "other"),
            (Path::new("src/main.rs"), "bind the server socket")
        ]
    );
}

#[test]
fn generate_rejects_a_name_used_in_two_files() {
    let dir = solution("duplicate");
    dir.put(
        "solution/src/net.rs",
        b"\n// hole: other\n// TODO: t\n// end hole\n",
    );
    let e = generate(&dir.0.join("solution")).unwrap_err();
    assert_eq!(e.file, dir.0.join("solution/src/net.rs"));
    assert_eq!(e.line, 2);
    assert!(
        e.message.contains("already used in src/lib.rs:1"),
        "{}",
        e.message
    );
}

#[test]
fn generate_reports_errors_with_the_full_path() {
    let dir = solution("error-path");
    dir.put("solution/src/bad.rs", b"// end hole\n");
    let e = generate(&dir.0.join("solution")).unwrap_err();
    assert_eq!(e.file, dir.0.join("solution/src/bad.rs"));
    assert_eq!(e.line, 1);
}

#[test]
fn written_skeleton_has_no_drift_and_keeps_lab_files() {
    let dir = solution("in-sync");
    let skeleton = generate(&dir.0.join("solution")).unwrap();
    let lab = dir.0.join("lab");
    dir.put("lab/spec.yaml", b"lab: hw1\n");
    dir.put("lab/requirements.yaml", b"requirements: []\n");
    dir.put("lab/target/debug/hw1", b"binary");
    dir.put("lab/.gitignore", b"target\n");
    assert_eq!(drift(&skeleton, &lab).unwrap().len(), skeleton.files.len());
    write(&skeleton, &lab).unwrap();
    assert_eq!(drift(&skeleton, &lab).unwrap(), []);
    assert_eq!(fs::read(lab.join("spec.yaml")).unwrap(), b"lab: hw1\n");
    assert!(lab.join("requirements.yaml").exists());
    assert!(lab.join("target/debug/hw1").exists());
    assert!(lab.join(".gitignore").exists());
}

#[test]
fn drift_finds_changed_missing_and_extra_files() {
    let dir = solution("drift");
    let skeleton = generate(&dir.0.join("solution")).unwrap();
    let lab = dir.0.join("lab");
    write(&skeleton, &lab).unwrap();
    let edited = SKELETON.replace("todo!(\"bind the server socket\")", "todo!()");
    dir.put("lab/src/main.rs", edited.as_bytes());
    fs::remove_file(lab.join("src/lib.rs")).unwrap();
    dir.put("lab/src/extra/notes.rs", b"// mine\n");
    dir.put("lab/spec.yaml", b"changed: yes\n");
    let drifts = drift(&skeleton, &lab).unwrap();
    assert_eq!(
        drifts,
        [
            Drift::Extra("src/extra/notes.rs".into()),
            Drift::Missing("src/lib.rs".into()),
            Drift::Differs {
                file: "src/main.rs".into(),
                line: 4,
                expected: "    todo!(\"bind the server socket\")".into(),
                actual: "    todo!()".into(),
            },
        ]
    );
    assert_eq!(
        drifts[2].to_string(),
        "src/main.rs:4 differs from what generation produces\n  \
             generated:     todo!(\"bind the server socket\")\n  \
             committed:     todo!()"
    );
    assert_eq!(
        drifts[1].to_string(),
        "src/lib.rs is missing: generation produces it"
    );

    write(&skeleton, &lab).unwrap();
    assert_eq!(drift(&skeleton, &lab).unwrap(), []);
    assert!(
        !lab.join("src/extra").exists(),
        "the emptied directory is removed"
    );
    assert_eq!(fs::read(lab.join("spec.yaml")).unwrap(), b"changed: yes\n");
}

#[test]
fn drift_of_a_missing_lab_lists_every_file() {
    let dir = solution("no-lab");
    let skeleton = generate(&dir.0.join("solution")).unwrap();
    let drifts = drift(&skeleton, &dir.0.join("nowhere")).unwrap();
    assert!(drifts.iter().all(|d| matches!(d, Drift::Missing(_))));
    assert_eq!(drifts.len(), 4);
}

#[test]
fn difference_in_line_endings_is_spelt_out() {
    let d = first_difference(Path::new("a.rs"), b"x\ny\n", b"x\ny").unwrap();
    assert_eq!(
        d,
        Drift::Differs {
            file: "a.rs".into(),
            line: 2,
            expected: "y (ends with \\n)".into(),
            actual: "y (no newline at end of file)".into(),
        }
    );
    let d = first_difference(Path::new("a.rs"), b"x\n", b"x\nmore\n").unwrap();
    assert!(matches!(d, Drift::Differs { line: 2, ref expected, .. } if expected == END_OF_FILE));
}
