//! The JSON Schema of `spec.yaml` is generated from the grader's own types,
//! committed as `specs/spec.schema.json`, named by every spec, and agrees
//! with the grader on what a spec may hold.

mod common;
use common::{grader, hw1_spec, root, run};

fn committed() -> String {
    std::fs::read_to_string(root().join("specs/spec.schema.json")).unwrap()
}

fn specs() -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for lab in std::fs::read_dir(root().join("labs")).unwrap() {
        let path = lab.unwrap().path().join("spec.yaml");
        if path.is_file() {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
    assert!(!out.is_empty());
    out
}

/// Validates YAML text against the committed schema; the errors, if any.
fn validate(yaml: &str) -> Result<(), String> {
    let schema: serde_json::Value = serde_json::from_str(&committed()).unwrap();
    let instance: serde_json::Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("spec.schema.json", schema)
        .map_err(|e| e.to_string())?;
    let index = compiler
        .compile("spec.schema.json", &mut schemas)
        .map_err(|e| format!("{e:#}"))?;
    schemas
        .validate(&instance, index)
        .map_err(|e| format!("{e:#}"))
}

/// `specs/spec.schema.json` is what `grader schema` prints from the code.
#[test]
fn the_committed_schema_is_current() {
    let (code, out, err) = run(grader().arg("schema"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out == committed(),
        "specs/spec.schema.json is out of date: run `cargo grader schema > specs/spec.schema.json`"
    );
}

/// Every spec of the kit names the schema on its first line, for editors.
#[test]
fn every_spec_names_the_schema() {
    for (path, text) in specs() {
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../../specs/spec.schema.json"),
            "{}",
            path.display()
        );
    }
}

/// Every spec of the kit follows the schema, checked by a real validator.
#[test]
fn every_spec_follows_the_schema() {
    for (path, text) in specs() {
        if let Err(e) = validate(&text) {
            panic!("{} does not follow the schema:\n{e}", path.display());
        }
    }
}

/// The schema refuses what the grader refuses for its shape: a misspelt
/// field, an unknown step, a duration without a unit, a wrong message type.
#[test]
fn the_schema_refuses_a_misshapen_spec() {
    let spec = hw1_spec();
    for (from, to) in [
        ("    hint: >-", "    hnit: >-"),
        ("      - stop: server", "      - halt: server"),
        ("timeout: 10s", "timeout: 10"),
        ("type: READ_REQ, min: 5", "type: READ_REQUEST, min: 5"),
        ("- repeat: 5\n", "- repeat: 0\n"),
    ] {
        let bad = spec.replacen(from, to, 1);
        assert_ne!(bad, spec, "{from}");
        assert!(validate(&bad).is_err(), "the schema accepts `{to}`");
    }
}

/// The complete example of `specs/spec-format.md` follows the schema, and
/// the reference solution passes it, so the page cannot drift from the code.
#[test]
fn the_example_of_the_spec_format_page_works() {
    let page = std::fs::read_to_string(root().join("specs/spec-format.md")).unwrap();
    let example = page
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split_once("```").map(|(yaml, _)| yaml))
        .find(|yaml| yaml.starts_with("# yaml-language-server:") && yaml.contains("\nlab: hw1\n"))
        .expect("the page's complete example");
    if let Err(e) = validate(example) {
        panic!("the example does not follow the schema:\n{e}");
    }
    let kit = common::kit_with_spec("format-example", example);
    let (code, out, err) = common::grade_kit(&kit, &["--seed", "2"], common::hw1_solution());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
}
