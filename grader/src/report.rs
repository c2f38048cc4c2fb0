//! What the grader prints: one line per test, details under a failure, a
//! closing `N passed, M failed`.
//!
//! Colour only on a terminal and never when `NO_COLOR` is set, so logs of
//! CI runs and autograders stay plain text.

use std::io::IsTerminal;

use colored::Colorize;

use crate::runner::Outcome;
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
        println!(
            "  {}  {:<28} {:>6}",
            "PASS".green().bold(),
            o.name,
            secs.dimmed()
        );
        return;
    }
    println!(
        "  {}  {:<28} {:>6}",
        "FAIL".red().bold(),
        o.name,
        secs.dimmed()
    );
    println!("        {}", spec.description.dimmed());
    for f in &o.failures {
        println!("        {}", f.headline.bold());
        for d in &f.details {
            println!("          {d}");
        }
    }
    if !o.commands.is_empty() {
        println!("        {}", "ran:".cyan());
        for c in &o.commands {
            println!("          {c}");
        }
    }
    if let Some(h) = &spec.hint {
        println!("        {} {}", "hint:".yellow().bold(), h.trim());
    }
    if verbose && !o.wire.is_empty() {
        println!("        datagrams ({}):", o.wire.len());
        for l in o.wire.iter().take(200) {
            println!("          {l}");
        }
    } else if !o.wire.is_empty() {
        println!(
            "        {} add -v to see the {} datagrams on the wire",
            "wire:".cyan(),
            o.wire.len()
        );
    }
    println!(
        "        {} {replay}",
        "replay:".cyan().bold(),
        replay = replay
    );
}

/// The closing line; the kit's CI reads it.
pub fn summary(passed: usize, failed: usize) {
    let line = format!("{passed} passed, {failed} failed");
    if failed == 0 {
        println!("{}", line.green().bold());
    } else {
        println!("{}", line.red().bold());
    }
}
