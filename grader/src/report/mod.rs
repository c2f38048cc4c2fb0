//! What the grader prints: one line per test, details under a failure, a
//! closing `N passed, M failed`.
//!
//! Colour only on a terminal and never when `NO_COLOR` is set, so logs of
//! CI runs and autograders stay plain text.

use std::io::IsTerminal;

use colored::Colorize;

use crate::run::Outcome;
use crate::spec::TestSpec;

/// Whether output should be coloured.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Sets the colour choice for everything printed after.
pub fn init_color() {
    colored::control::set_override(color_wanted());
}

/// Prints one test's line, and for a failure what went wrong, the hint,
/// and the command that replays it.
pub fn outcome(o: &Outcome, spec: &TestSpec, replay: &str, verbose: bool) {
    let secs = format!("{:.1}s", o.elapsed.as_secs_f64());
    if o.passed() {
        crate::out!(
            "  {}  {:<28} {:>6}",
            "PASS".green().bold(),
            o.name,
            secs.dimmed()
        );
        return;
    }
    crate::out!(
        "  {}  {:<28} {:>6}",
        "FAIL".red().bold(),
        o.name,
        secs.dimmed()
    );
    crate::out!("        {}", spec.description.dimmed());
    for f in &o.failures {
        crate::out!("        {}", f.headline.bold());
        for d in &f.details {
            crate::out!("          {d}");
        }
    }
    if !o.commands.is_empty() {
        crate::out!("        {}", "ran:".cyan());
        for c in &o.commands {
            crate::out!("          {c}");
        }
    }
    if let Some(h) = &spec.hint {
        crate::out!("        {} {}", "hint:".yellow().bold(), h.trim());
    }
    if verbose && !o.wire.is_empty() {
        crate::out!("        datagrams ({}):", o.wire.len());
        for l in o.wire.iter().take(200) {
            crate::out!("          {l}");
        }
    } else if !o.wire.is_empty() {
        crate::out!(
            "        {} add -v to see the {} datagrams on the wire",
            "wire:".cyan(),
            o.wire.len()
        );
    }
    crate::out!(
        "        {} {replay}",
        "replay:".cyan().bold(),
        replay = replay
    );
}

/// The closing line; the kit's CI reads it.
pub fn summary(passed: usize, failed: usize) {
    let line = format!("{passed} passed, {failed} failed");
    if failed == 0 {
        crate::out!("{}", line.green().bold());
    } else {
        crate::out!("{}", line.red().bold());
    }
}
