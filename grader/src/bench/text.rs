//! The report of `grader bench` for people: one section per benchmark,
//! a table of figures in each.

use std::time::Duration;

use super::{Comparison, GRADING_RUNS, IDLE_WINDOW, Measured, Report, SLICES, show};

/// Microseconds for people: `41 µs`, `1.25 ms`.
fn show_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".into(), |p| format!("{p:.2} %"))
}

impl Report {
    /// The report for people.
    pub fn text(&self) -> String {
        let m = &self.machine;
        let mut out = vec![
            format!(
                "grader bench: {} CPU(s), {}, Linux {}, {} MiB; grader built {}",
                m.cpus, m.cpu_model, m.kernel, m.memory_mib, m.grader_build
            ),
            String::new(),
            format!(
                "Echo: hw1's reference server beside a minimal blocking echo in its own process, \
                 driven in turn ({SLICES} slices of {} each)",
                show(Duration::from_secs_f64(self.seconds / f64::from(SLICES)))
            ),
        ];
        out.push(table_header());
        for c in &self.echo {
            out.extend(comparison_rows(c));
        }
        out.push(String::new());
        out.push(format!(
            "Idle CPU: each reference server alone, {}, from /proc/PID/task/*/schedstat",
            show(IDLE_WINDOW)
        ));
        out.push(format!(
            "  {:<5} {:<10} {:>9} {:>9} {:>8}",
            "lab", "program", "CPU", "asked", "wakeups"
        ));
        for i in &self.idle {
            out.push(format!(
                "  {:<5} {:<10} {:>9} {:>9} {:>8}",
                i.lab,
                i.program,
                percent(i.cpu_percent),
                percent(i.asked_percent),
                i.wakeups.map_or_else(|| "n/a".into(), |w| w.to_string())
            ));
        }
        out.push(String::new());
        match &self.grading {
            None => out.push("Grading time: skipped (--quick)".into()),
            Some(rows) => {
                out.push(format!(
                    "Grading time: `grader LAB --solutions`, wall time, median of {GRADING_RUNS} runs"
                ));
                for g in rows {
                    let runs: Vec<String> = g.runs_s.iter().map(|r| format!("{r:.1}")).collect();
                    out.push(format!(
                        "  {:<5} {:>7.1} s   (runs: {} s){}",
                        g.what,
                        g.median_s,
                        runs.join(", "),
                        if g.passed { "" } else { "  NOT ALL PASSED" }
                    ));
                }
            }
        }
        out.push(String::new());
        out.push(
            "hw2 store: the reference server beside a baseline that answers as a store (and stores nothing); \
             each client writes keys of its own and reads each back"
                .into(),
        );
        out.push(table_header());
        out.extend(comparison_rows(&self.store));
        out.push(String::new());
        out.push(
            "hw5 write path: WRITE_REQs to the reference primary, which answers once its two backups \
             have acknowledged; a key of its own per write; beside the store baseline (one hop)"
                .into(),
        );
        out.push(table_header());
        out.extend(comparison_rows(&self.write_path));
        out.join("\n")
    }
}

fn table_header() -> String {
    format!(
        "  {:>7}  {:<18} {:>11} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "clients", "target", "requests/s", "p50", "p99", "answered", "lost", "wrong"
    )
}

fn comparison_rows(c: &Comparison) -> Vec<String> {
    let row = |m: &Measured| {
        format!(
            "  {:>7}  {:<18} {:>11.0} {:>9} {:>9} {:>9} {:>6} {:>6}",
            c.clients,
            m.target,
            m.per_second,
            show_us(m.p50_us),
            show_us(m.p99_us),
            m.answered,
            m.lost,
            m.wrong
        )
    };
    vec![
        row(&c.reference),
        row(&c.baseline),
        format!("  {:>7}  reference/baseline: {:.2}", c.clients, c.ratio),
    ]
}
