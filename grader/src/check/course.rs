//! The course's own programs, imitated: classic tests are the course.
//!
//! `solutions/hwN-course/` holds the original course's programs, imitated
//! in another language with the kit's command line, bugs and weaknesses
//! included. A program that prints exactly the course's lines passes every
//! classic test; where the course had a bug the lab's page documents, the
//! classic test fails and its failure names that bug. Robust tests fail
//! them, each for its real cause.
//!
//! # Format
//!
//! `solutions/hwN-course/expected.yaml`:
//!
//! ```yaml
//! fails:
//!   - test: kv
//!     message: "cloing"
//!     because: the course's client printed `cloing` (hw2.md, "The course's bugs")
//! ```
//!
//! `grader check` runs every classic test and every listed test on the
//! programs of that directory, as `--bin-dir` does: a classic test not
//! listed must pass; a listed test must fail, and a failure must say its
//! `message`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file of expectations in a course directory.
pub const FILE: &str = "expected.yaml";

/// What the kit's tests must say of the course's programs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// The tests that must fail, each with its cause.
    #[serde(default)]
    pub fails: Vec<Failing>,
}

/// A test that must fail the course's programs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failing {
    /// The test's name.
    pub test: String,
    /// Text a failure must contain: the real cause.
    pub message: String,
    /// Why the course fails it: the bug or weakness, where the page says so.
    pub because: String,
}

/// The directory of a lab's course programs: `solutions/hw2-course`.
pub fn dir(root: &Path, lab: &str) -> PathBuf {
    root.join("solutions").join(format!("{lab}-course"))
}

impl Expected {
    /// Reads `expected.yaml` of a course directory, if there is one.
    ///
    /// # Errors
    /// A file that cannot be read or parsed (with its line and column).
    pub fn load(dir: &Path) -> anyhow::Result<Option<Expected>> {
        super::load_yaml(&dir.join(FILE))
    }

    /// What a test must do: `None` to pass, or the failure it must show.
    pub fn of(&self, test: &str) -> Option<&Failing> {
        self.fails.iter().find(|f| f.test == test)
    }
}
