//! Checks on processes: holes, crashes, floods of output or datagrams,
//! leftovers and limits, node by node, and scripted peers that failed.

use std::time::Duration;

use super::{Check, Failure, Kind, Place, fail, pass};
use crate::run::record::{Record, ScriptError, What};
use crate::run::script;
use crate::spec::Stream;

/// The `todo!()` texts in the programs' stderr, with their node.
pub(super) fn holes(record: &Record) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, n) in record.nodes.iter().enumerate() {
        for h in holes_in(&n.texts(Stream::Stderr)) {
            out.push((i, h));
        }
    }
    out
}

/// The texts of `todo!()` panics in a program's stderr.
pub fn holes_in(stderr: &[&str]) -> Vec<String> {
    stderr
        .iter()
        .filter_map(|l| crate::run::record::hole_in(l))
        .collect()
}

/// The message of a Rust panic in a program's stderr, if any.
pub(super) fn panic_in(stderr: &[&str]) -> Option<String> {
    let i = stderr.iter().position(|l| l.contains("panicked at"))?;
    let msg = stderr
        .get(i + 1)
        .filter(|m| !m.starts_with("note:"))
        .map(|m| m.to_string())
        .unwrap_or_default();
    let at = stderr[i]
        .split("panicked at")
        .nth(1)
        .unwrap_or("")
        .trim()
        .trim_end_matches(':');
    Some(if msg.is_empty() {
        format!("a panic at {at}")
    } else {
        format!("{msg} (at {at})")
    })
}

/// Crash, flood and leftovers of one program.
pub(super) fn program(record: &Record, i: usize) -> Vec<Check> {
    let name = record.nodes[i].name.as_str();
    let err = record.nodes[i].texts(Stream::Stderr);
    let mut out = Vec::new();
    out.push(match panic_in(&err) {
        Some(panic) => fail(
            Kind::CRASH,
            Some(name),
            Failure::new(format!("{name} crashed: {panic}")).showing(i, &[Stream::Stderr]),
        ),
        None => pass(Kind::CRASH, Some(name)),
    });
    let flood = record.events_where(|w| match w {
        What::Flooded { stream, limit } => Some((*stream, *limit)),
        _ => None,
    });
    match flood
        .filter(|(n, _, _)| *n == Some(i))
        .map(|(_, _, f)| f)
        .next()
    {
        Some((stream, limit)) => out.push(fail(
            Kind::FLOOD,
            Some(name),
            Failure::new(format!(
                "{name} printed more than {} on {stream}; the grader stopped it",
                bytes(limit)
            )),
        )),
        None => out.push(pass(Kind::FLOOD, Some(name))),
    }
    let mut limit = record.events_where(|w| match w {
        What::LimitExceeded { limit } => Some(*limit),
        _ => None,
    });
    match limit.find(|(n, _, _)| *n == Some(i)) {
        Some((_, at, limit)) => out.push(fail(
            Kind::LIMIT,
            Some(name),
            Failure::new(format!("{name} exceeded its {limit}; the grader killed it"))
                .at(Place::Time(at)),
        )),
        None => out.push(pass(Kind::LIMIT, Some(name))),
    }
    let mut left = record.events_where(|w| match w {
        What::LeftBehind {
            strays,
            total,
            on_exit,
            escaped,
        } => Some((strays.clone(), *total, *on_exit && !*escaped)),
        _ => None,
    });
    match left.find(|(n, _, _)| *n == Some(i)) {
        Some((_, at, (strays, total, on_exit))) => {
            let list: Vec<String> = strays
                .iter()
                .map(|s| format!("pid {}, `{}`", s.pid, s.command))
                .collect();
            let more = if total > strays.len() {
                format!("; and {} more", total - strays.len())
            } else {
                String::new()
            };
            let (them, it) = if total == 1 {
                ("a background process", "it")
            } else {
                ("background processes", "them")
            };
            let summary = if on_exit {
                format!(
                    "{name} exited but left {} of its own running: {}{more}; the grader killed {it}",
                    processes(total),
                    list.join("; ")
                )
            } else {
                format!(
                    "{name} left {} running: {}{more}; the grader killed {it}",
                    if total == 1 {
                        them.to_string()
                    } else {
                        format!("{total} {them}")
                    },
                    list.join("; ")
                )
            };
            out.push(fail(
                Kind::LEFTOVERS,
                Some(name),
                Failure::new(summary).at(Place::Time(at)).note(
                    "a lab program starts no process that outlives it: no `&`, no daemon, no fork left running",
                ),
            ));
        }
        None => out.push(pass(Kind::LEFTOVERS, Some(name))),
    }
    out
}

/// Whether node `i` kept to the send rate; a node that went over it
/// flooded the network. The totals are the whole run's.
pub(super) fn send_rate(record: &Record, i: usize) -> Option<Check> {
    let node = &record.nodes[i];
    let name = node.name.as_str();
    let over = record
        .events_where(|w| match w {
            What::SendRateExceeded { limit } => Some(*limit),
            _ => None,
        })
        .find(|(n, _, _)| *n == Some(i));
    let Some((_, at, limit)) = over else {
        return Some(pass(Kind::SEND_RATE, Some(name)));
    };
    let s = record.traffic.senders[i];
    let who = if node.script {
        format!("the grader's {name}")
    } else {
        name.to_string()
    };
    Some(fail(
        Kind::SEND_RATE,
        Some(name),
        Failure::new(format!(
            "{who} sent {} datagram{} in {}: flooding (limit {limit} a second)",
            s.sent,
            if s.sent == 1 { "" } else { "s" },
            seconds(s.last.saturating_sub(s.first)),
        ))
        .note(format!(
            "the proxy passed on at most {limit} in any one second and refused the other {}; the grader ended the test when the rate was first exceeded, at {} ms",
            s.refused,
            at.as_millis()
        ))
        .note("send a datagram when there is a reason to (a request, a reply, a retransmission after its timeout); a loop around sendto(2) that never waits floods the network")
        .at(Place::Time(at)),
    ))
}

/// "1 process", "3 processes".
pub(crate) fn processes(n: usize) -> String {
    if n == 1 {
        "1 process".to_string()
    } else {
        format!("{n} processes")
    }
}

/// A duration as a report says it: `40 ms`, `1.5 s`, `2 s`, `12 s`.
pub(super) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if s >= 10.0 || (s - s.round()).abs() < 0.05 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

pub(super) fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// A scripted peer's result; one that the end of a run cut short
/// interrupted is not judged.
pub(super) fn scripted(record: &Record, i: usize, cut_short: bool) -> Vec<Check> {
    let name = record.nodes[i].name.as_str();
    let ended = record.events_where(|w| match w {
        What::ScriptEnded { error } => Some(error.clone()),
        _ => None,
    });
    let error = ended
        .filter(|(n, _, _)| *n == Some(i))
        .map(|(_, at, e)| (at, e))
        .next();
    match error {
        // The end of the test, or its time limit, which the failed step
        // reports as the cause.
        Some((_, Some(e)))
            if cut_short && (e.actual == script::ENDED || e.actual == script::TIME_UP) =>
        {
            Vec::new()
        }
        Some((at, Some(e))) => vec![fail(
            Kind::SCRIPT,
            Some(name),
            script_failure(name, &e).at(Place::Time(at)),
        )],
        Some((_, None)) => vec![pass(Kind::SCRIPT, Some(name))],
        None => Vec::new(),
    }
}

pub(super) fn script_failure(name: &str, e: &ScriptError) -> Failure {
    if e.actual == script::ENDED {
        return Failure::new(format!(
            "the grader's {name} had not finished its script when the test ended (it was at step {})",
            e.step
        ))
        .note("the spec should wait for it with `wait_exit`");
    }
    Failure {
        expected: Some(e.expected.clone()),
        actual: Some(e.actual.clone()),
        ..Failure::new(format!(
            "the grader's {name} stopped at step {} of its script ({})",
            e.step, e.kind
        ))
    }
}
