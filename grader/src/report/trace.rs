//! The files that show one run: its sequence diagram (SVG), its datagrams
//! as a capture Wireshark opens (pcap), and its events for ShiViz.
//!
//! Every run that fails gets its diagram and its capture, in the kit's
//! `target/grader/LAB/` (beside what cargo builds, which no one commits);
//! with `--trace DIR`, every run gets all three, in `DIR/LAB/`. A file is
//! named after its test, and its run when `--repeat` made several:
//! `loss.svg`, `loss-run2.pcap`, `loss.shiviz`. What the grader could not
//! write it says in the report instead, and the grading goes on.

use std::path::{Path, PathBuf};

use super::{diagram, pcap, shiviz};
use crate::judge::{Status, Verdict};
use crate::run::record::Record;

/// Where the files of runs go, and which runs get them.
#[derive(Debug, Clone)]
pub struct Tracing {
    /// The directory of the files of failing runs.
    pub failing: PathBuf,
    /// `--trace DIR`: every run's files go there instead.
    pub every: Option<PathBuf>,
}

/// One file written, and what it is, for the report: `diagram`,
/// `capture`, `ShiViz log`.
pub type Written = (PathBuf, &'static str);

impl Tracing {
    /// Writes the files of one run of test `test` of lab `lab` (run `run`
    /// of `runs`), if it gets any; returns them, or why they could not be
    /// written.
    pub fn write(
        &self,
        lab: &str,
        test: &str,
        run: (u64, u64),
        record: &Record,
        verdict: &Verdict,
    ) -> Result<Vec<Written>, String> {
        let failed = verdict.status != Status::Passed;
        let dir = match (&self.every, failed) {
            (Some(d), _) => d.join(lab),
            (None, true) => self.failing.join(lab),
            (None, false) => return Ok(Vec::new()),
        };
        let stem = if run.1 > 1 {
            format!("{test}-run{}", run.0)
        } else {
            test.to_string()
        };
        let mut files: Vec<(PathBuf, &'static str, Vec<u8>)> = vec![
            (
                dir.join(format!("{stem}.svg")),
                "diagram",
                diagram::svg(record, Some(verdict)).into_bytes(),
            ),
            (
                dir.join(format!("{stem}.pcap")),
                "capture",
                pcap::pcap(record),
            ),
        ];
        if self.every.is_some() {
            files.push((
                dir.join(format!("{stem}.shiviz")),
                "ShiViz log",
                shiviz::log(record).into_bytes(),
            ));
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let mut written = Vec::new();
        for (path, what, bytes) in files {
            write(&path, &bytes)?;
            written.push((path, what));
        }
        Ok(written)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::confine::write_bytes(path, bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
