//! Requirements traced to tests: what a lab's page demands of a program,
//! the tests that fail without it, and the mutants that prove they do.
//!
//! # Format
//!
//! `labs/hwN-*/requirements.yaml`, beside `spec.yaml`, where an
//! instructor reads the tests:
//!
//! ```yaml
//! requirements:
//!   - says: "answers every request with type READ_REP"
//!     page: hw1.md          # a page of specs/; default: the lab's own
//!     tests: [echo]
//!     mutants: [answers-write-rep]
//! ```
//!
//! # What `grader check` proves of it
//!
//! - `says` occurs in the page, compared with every run of white space
//!   made one space (a clause copied from a paragraph or a table cell);
//! - every test a row names is in the spec, every mutant in the
//!   solution's `mutants.yaml`;
//! - every row names at least one test and one mutant, and each of its
//!   tests is proven by one of its mutants: the mutant lists the test in
//!   `caught_by` (that the mutant is caught is proved by the mutant checks);
//! - every test of the spec and every mutant is in some row: nothing is
//!   tested that the page does not ask, and no bug is planted that no
//!   requirement forbids.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use super::mutants::Mutant;
use crate::spec::LabSpec;

/// The file of requirements beside a lab's `spec.yaml`.
pub const FILE: &str = "requirements.yaml";

/// A lab's requirements.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The rows, in the order of the page.
    pub requirements: Vec<Requirement>,
}

/// One thing a page says a program must or must not do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The page's words, copied.
    pub says: String,
    /// The page under `specs/` (default: the lab's, `hwN.md`).
    #[serde(default)]
    pub page: Option<String>,
    /// The tests that fail without it.
    #[serde(default)]
    pub tests: Vec<String>,
    /// The mutants that prove it.
    #[serde(default)]
    pub mutants: Vec<String>,
}

impl Requirements {
    /// Reads `requirements.yaml` of a lab, if it has one.
    ///
    /// # Errors
    /// A file that cannot be read or parsed (with its line and column).
    pub fn load(lab_dir: &Path) -> anyhow::Result<Option<Requirements>> {
        super::load_yaml(&lab_dir.join(FILE))
    }
}

/// Where the pages are, and which is the lab's own.
#[derive(Debug, Clone)]
pub struct Pages {
    /// `specs/`.
    pub dir: PathBuf,
    /// The lab's page: `hw1.md`.
    pub own: String,
}

/// Every way the rows fail to trace the page to tests and mutants, one
/// sentence each; empty when they do.
///
/// # Errors
/// A page that cannot be read.
pub fn problems(
    reqs: &Requirements,
    spec: &LabSpec,
    mutants: &[Mutant],
    pages: &Pages,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut texts = std::collections::BTreeMap::new();
    let tests: BTreeSet<&str> = spec.tests.iter().map(|t| t.name.as_str()).collect();
    let known: BTreeSet<&str> = mutants.iter().map(|m| m.name.as_str()).collect();
    for (i, r) in reqs.requirements.iter().enumerate() {
        let row = format!("row {} (`{}`)", i + 1, short(&r.says));
        let page = r.page.clone().unwrap_or_else(|| pages.own.clone());
        if !texts.contains_key(&page) {
            let path = pages.dir.join(&page);
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            texts.insert(page.clone(), squeeze(&text));
        }
        if !texts[&page].contains(&squeeze(&r.says)) {
            out.push(format!("{row}: specs/{page} does not say it"));
        }
        if r.tests.is_empty() {
            out.push(format!("{row}: names no test"));
        }
        if r.mutants.is_empty() {
            out.push(format!("{row}: names no mutant"));
        }
        for t in r.tests.iter().filter(|t| !tests.contains(t.as_str())) {
            out.push(format!("{row}: the spec has no test `{t}`"));
        }
        for m in r.mutants.iter().filter(|m| !known.contains(m.as_str())) {
            out.push(format!("{row}: mutants.yaml has no mutant `{m}`"));
        }
        // Each test of the row fails without the requirement: a mutant of
        // the row proves it (lists it in `caught_by`).
        let proves = |t: &str| {
            mutants
                .iter()
                .filter(|m| r.mutants.contains(&m.name))
                .any(|m| m.caught_by.iter().any(|c| c.test == t))
        };
        for t in r.tests.iter().filter(|t| tests.contains(t.as_str())) {
            if !r.mutants.is_empty() && !proves(t) {
                out.push(format!(
                    "{row}: no mutant of the row is caught by its test `{t}` (caught_by): add one, or move the test to the row it proves"
                ));
            }
        }
    }
    let rows = &reqs.requirements;
    for t in &spec.tests {
        if !rows.iter().any(|r| r.tests.contains(&t.name)) {
            out.push(format!(
                "test `{}` traces to no requirement: which sentence of the page does it check?",
                t.name
            ));
        }
    }
    for m in mutants {
        if !rows.iter().any(|r| r.mutants.contains(&m.name)) {
            out.push(format!(
                "mutant `{}` traces to no requirement: which sentence of the page does it break?",
                m.name
            ));
        }
    }
    Ok(out)
}

/// Text with every run of white space made one space.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The start of a long sentence, to name its row.
fn short(s: &str) -> String {
    let s = squeeze(s);
    match s.char_indices().nth(50) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::mutants::{Catch, Mutant};

    fn mutant(name: &str, test: &str) -> Mutant {
        Mutant {
            name: name.into(),
            description: "a bug".into(),
            edits: Vec::new(),
            caught_by: vec![Catch {
                test: test.into(),
                message: "m".into(),
            }],
            seeds: 1,
        }
    }

    fn spec(tests: &[&str]) -> LabSpec {
        let mut yaml = String::from("lab: hw1\ntitle: t\nbinaries: [server]\ntests:\n");
        for t in tests {
            yaml.push_str(&format!(
                "  - name: {t}\n    description: d\n    nodes: [{{ name: server, run: server }}]\n    \
                 steps: [{{ start: server }}, {{ stop: server }}]\n    \
                 expect: {{ server: {{ exit: 0 }} }}\n"
            ));
        }
        LabSpec::parse(Path::new("spec.yaml"), &yaml).unwrap()
    }

    fn pages(text: &str) -> (tempdir::Dir, Pages) {
        let d = tempdir::Dir::new();
        fs::write(d.0.join("hw1.md"), text).unwrap();
        let p = Pages {
            dir: d.0.clone(),
            own: "hw1.md".into(),
        };
        (d, p)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "grader-reqs-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn rows(yaml: &str) -> Requirements {
        serde_yaml::from_str(yaml).unwrap()
    }

    /// A page's sentence, its test and the mutant the test catches: traced.
    #[test]
    fn a_row_with_a_caught_mutant_traces() {
        let (_d, p) = pages("The server answers\nevery request with type `READ_REP`.\n");
        let r = rows(
            "requirements:\n  - says: \"answers every request with type `READ_REP`\"\n    \
             tests: [echo]\n    mutants: [wrong-type]\n",
        );
        let got = problems(&r, &spec(&["echo"]), &[mutant("wrong-type", "echo")], &p).unwrap();
        assert_eq!(got, Vec::<String>::new());
    }

    /// Each way a row can fail to trace is named.
    #[test]
    fn every_gap_is_named() {
        let (_d, p) = pages("The server answers every request.\n");
        let r = rows(
            "requirements:\n  - says: the server never sleeps\n    tests: [echo, nope]\n    \
             mutants: [other, ghost]\n  - says: answers every request\n    tests: []\n    \
             mutants: []\n",
        );
        let ms = [mutant("other", "idle"), mutant("lonely", "echo")];
        let got = problems(&r, &spec(&["echo", "idle"]), &ms, &p).unwrap();
        let expected = [
            "row 1 (`the server never sleeps`): specs/hw1.md does not say it",
            "row 1 (`the server never sleeps`): the spec has no test `nope`",
            "row 1 (`the server never sleeps`): mutants.yaml has no mutant `ghost`",
            "row 1 (`the server never sleeps`): no mutant of the row is caught by its test `echo` (caught_by): add one, or move the test to the row it proves",
            "row 2 (`answers every request`): names no test",
            "row 2 (`answers every request`): names no mutant",
            "test `idle` traces to no requirement: which sentence of the page does it check?",
            "mutant `lonely` traces to no requirement: which sentence of the page does it break?",
        ];
        assert_eq!(got, expected);
    }

    /// A row may quote another page; a page that does not exist is an error.
    #[test]
    fn a_row_may_quote_another_page() {
        let (d, p) = pages("nothing here\n");
        fs::write(d.0.join("protocol.md"), "A record is 33 bytes.").unwrap();
        let r = rows(
            "requirements:\n  - says: a record is 33 bytes\n    page: protocol.md\n    \
             tests: [echo]\n    mutants: [m]\n",
        );
        let got = problems(&r, &spec(&["echo"]), &[mutant("m", "echo")], &p).unwrap();
        assert_eq!(
            got,
            ["row 1 (`a record is 33 bytes`): specs/protocol.md does not say it"]
        );
        let r = rows(
            "requirements:\n  - says: x\n    page: none.md\n    tests: [echo]\n    mutants: [m]\n",
        );
        let e = problems(&r, &spec(&["echo"]), &[mutant("m", "echo")], &p).unwrap_err();
        assert!(format!("{e:#}").contains("none.md"), "{e:#}");
    }
}
