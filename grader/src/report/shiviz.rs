//! A run as a ShiViz log: the events of each node with vector clocks, for
//! <https://bestchai.bitbucket.io/shiviz/>, which draws them as a
//! space-time diagram one can explore (hide a node, find a pattern of
//! messages, compare two runs).
//!
//! ShiViz knows nothing of the kit: it reads any text with a regular
//! expression that names each event's `host`, vector `clock` and `event`
//! text, and draws an arrow wherever a clock shows that an event learnt of
//! another host's. So the clocks here are derived from the record, the way
//! a vector clock library in each program would have kept them (GoVector
//! logs what ShiViz reads in the same way):
//!
//! - a **send** ticks the sender's clock; the datagram carries a copy;
//! - a **delivery** (each copy the proxy passed on) merges that copy into
//!   the receiver's clock, component by component, then ticks it;
//! - a **local event** ticks the clock alone: a start, a signal, an exit
//!   or any other event of the node's process or script, and each line it
//!   printed (`client | ...` on stdout, `client ! ...` on stderr), as in
//!   the `-v` timeline.
//!
//! A dropped datagram (or a partitioned, undeliverable or refused one) is
//! a send with no delivery; a duplicated one has two. A
//! [forged](crate::run::record::Forged) datagram is a delivery merging the
//! clock of the send it was made from, when the record kept that send.
//! Events of no node (partitions, heals, changes of faults) have no place
//! on a host's line and are left out, as are the datagrams the record did
//! not keep ([`Record::unkept`]).
//!
//! The times are the record's, one clock for all nodes, so events are
//! taken in time order and the clocks are exact: a delivery is the moment
//! the proxy passed the copy on (the program reads it some time after,
//! which no one records).
//!
//! # Format
//!
//! Two lines per event: the host (the node's name) and its clock as a JSON
//! object, then the event, its time first:
//!
//! ```text
//! client {"client":2}
//! 12.345 ms  send  client -> server  33 bytes  Type: READ_REQ Key: k Value:   [dropped by rule 1]
//! ```
//!
//! [`REGEX`] is what to paste into ShiViz's "log parsing regular
//! expression" box (the same one as ShiViz's own Chord example).

use std::fmt::Write;
use std::time::Duration;

use super::text;
use crate::run::record::{Event, Record, What};
use crate::spec::Stream;

/// The parser regular expression to give ShiViz for [`log`]'s text.
pub const REGEX: &str = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)";

/// The ShiViz log of a run: two lines per event, each ending with a newline
/// (see the module docs).
pub fn log(record: &Record) -> String {
    let n = record.nodes.len();
    let hosts: Vec<String> = (record.nodes.iter().enumerate())
        .map(|(i, node)| host_name(&node.name, i))
        .collect();
    let mut steps = steps(record);
    steps.sort_by_key(|s| (s.at, s.order));
    // clocks[i]: node i's vector clock; sent[d]: the clock datagram d left with.
    let mut clocks = vec![vec![0u64; n]; n];
    let mut sent: Vec<Option<Vec<u64>>> = vec![None; record.datagrams.len()];
    let mut out = String::new();
    for step in steps {
        let node = match step.what {
            Step::Local { node, .. } => node,
            Step::Send { index } => record.datagrams[index].from,
            Step::Deliver { index, .. } => {
                let to = record.datagrams[index].to;
                if let Some(carried) = &sent[index] {
                    merge(&mut clocks[to], carried);
                }
                to
            }
            Step::Forged { to, from, .. } => {
                if let Some(carried) = from.and_then(|i| sent[i].as_ref()) {
                    merge(&mut clocks[to], carried);
                }
                to
            }
        };
        clocks[node][node] += 1;
        let text = match step.what {
            Step::Send { index } => {
                sent[index] = Some(clocks[node].clone());
                format!("send  {}", text::datagram(record, &record.datagrams[index]))
            }
            Step::Local { text, .. } | Step::Deliver { text, .. } | Step::Forged { text, .. } => {
                text
            }
        };
        write_event(&mut out, &hosts, node, &clocks[node], step.at, &text);
    }
    out
}

/// One event of the log, before its clock is known.
struct Timed {
    at: Duration,
    /// Ties at one moment: process events, printed lines, sends, forged
    /// deliveries, then deliveries (a send always before its delivery).
    order: u8,
    what: Step,
}

enum Step {
    /// An event of one node alone.
    Local { node: usize, text: String },
    /// Datagram `index` left its sender.
    Send { index: usize },
    /// A copy of datagram `index` left the proxy for its receiver.
    Deliver { index: usize, text: String },
    /// A forged datagram left the proxy for `to`, made from datagram
    /// `from` if the record kept it.
    Forged {
        to: usize,
        from: Option<usize>,
        text: String,
    },
}

/// Every event of the record that belongs to a node, in no order.
fn steps(record: &Record) -> Vec<Timed> {
    let mut steps = Vec::new();
    for e in &record.events {
        if let Some(node) = e.node
            && let Some(text) = local(record, e)
        {
            let what = Step::Local { node, text };
            steps.push(Timed {
                at: e.at,
                order: 0,
                what,
            });
        }
    }
    for (node, n) in record.nodes.iter().enumerate() {
        for (stream, mark) in [(Stream::Stdout, "|"), (Stream::Stderr, "!")] {
            for line in n.lines(stream) {
                let text = format!("{} {mark} {}", n.name, line.text);
                let what = Step::Local { node, text };
                steps.push(Timed {
                    at: line.at,
                    order: 1,
                    what,
                });
            }
        }
    }
    for (index, d) in record.datagrams.iter().enumerate() {
        let what = Step::Send { index };
        steps.push(Timed {
            at: d.sent,
            order: 2,
            what,
        });
        let copies = d.delivered.len();
        for (copy, &at) in d.delivered.iter().enumerate() {
            let of = if copies > 1 {
                format!(" (copy {} of {copies})", copy + 1)
            } else {
                String::new()
            };
            let text = format!("receive  {}{of}", text::datagram(record, d));
            steps.push(Timed {
                at,
                order: 4,
                what: Step::Deliver { index, text },
            });
        }
    }
    for f in &record.forged {
        // The datagram it was made from arrived at the same moment; the
        // datagrams are in the order they arrived.
        let first = (record.datagrams).partition_point(|d| d.sent < f.sent);
        let from = (record.datagrams[first..].iter())
            .take_while(|d| d.sent == f.sent)
            .position(|d| (d.from, d.to) == (f.from, f.to))
            .map(|k| first + k);
        let text = format!("receive  {}", text::forged(record, f));
        steps.push(Timed {
            at: f.sent,
            order: 3,
            what: Step::Forged {
                to: f.to,
                from,
                text,
            },
        });
    }
    steps
}

/// A node's event as a short sentence; `None` for what concerns no single
/// process (the steps of the spec).
fn local(record: &Record, e: &Event) -> Option<String> {
    let who = e.node.map_or("", |i| record.nodes[i].name.as_str());
    let text = match &e.what {
        What::Started { command, pid } => {
            format!("{who} started (pid {pid}): {}", command.join(" "))
        }
        What::ScriptStarted => format!("the grader's {who} started its script"),
        What::Bound { port } => format!("{who} bound UDP port {port}"),
        What::Signalled { signal } => format!("the grader sent {signal} to {who}"),
        What::Exited { status } => format!("{who} {}", status.verb()),
        What::KilledAtEnd => format!("{who} still running at the end: killed"),
        What::Flooded { stream, .. } => format!("{who} went over the output limit on {stream}"),
        What::SendRateExceeded { limit } => {
            format!("{who} went over the send rate ({limit} datagrams a second)")
        }
        What::LimitExceeded { limit } => format!("{who} went past its {limit}: killed"),
        What::StoppedAtHole { hole } => format!("{who} stopped at a hole: todo!(\"{hole}\")"),
        What::LeftBehind { total, .. } => {
            format!("{who} left {total} process(es) of its own running: killed")
        }
        What::ScriptEnded { error: None } => format!("the grader's {who} finished its script"),
        What::ScriptEnded { error: Some(e) } => format!("the grader's {who} stopped: {e}"),
        What::ScriptHeld { how } => format!("the grader's {who} {how}"),
        What::Queried { keys, nodes } => {
            format!("the grader's {who} read {keys} key(s) from {nodes} node(s)")
        }
        What::CpuMeasured { percent, .. } => format!("{who} used {percent:.0}% of a CPU"),
        What::LoadMeasured {
            clients,
            node,
            baseline,
        } => node.versus(who, *clients, baseline),
        // Network events name their nodes in their own fields; a step is
        // the spec's, not a node's.
        What::Partitioned { .. }
        | What::Healed
        | What::Cut { .. }
        | What::LinkHealed { .. }
        | What::FaultsChanged { .. }
        | What::Step { .. }
        | What::StepFailed { .. } => return None,
    };
    Some(text)
}

/// `clock` becomes the componentwise maximum of itself and `other`.
fn merge(clock: &mut [u64], other: &[u64]) {
    for (mine, theirs) in clock.iter_mut().zip(other) {
        *mine = (*mine).max(*theirs);
    }
}

/// Writes one event: `host {"a":1,"b":2}` (hosts never heard of left out),
/// then the time and the text on one line.
fn write_event(
    out: &mut String,
    hosts: &[String],
    node: usize,
    clock: &[u64],
    at: Duration,
    text: &str,
) {
    let entries: Vec<String> = (hosts.iter().zip(clock))
        .filter(|&(_, &c)| c > 0)
        .map(|(h, c)| format!("{}:{c}", serde_json::Value::from(h.as_str())))
        .collect();
    let millis = at.as_secs_f64() * 1000.0;
    let _ = writeln!(out, "{} {{{}}}", hosts[node], entries.join(","));
    let _ = writeln!(out, "{millis:.3} ms  {}", one_line(text));
}

/// A node's name as a ShiViz host: no white space (the regex reads the
/// host up to the first space), and never empty.
fn host_name(name: &str, index: usize) -> String {
    if name.is_empty() {
        return format!("node{index}");
    }
    name.chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

/// `text` on one line whatever a program printed or sent: control
/// characters spelt out ([`text::visible`]), and the two separators that
/// JavaScript's `.` does not match either.
fn one_line(text: &str) -> String {
    text::visible(text)
        .replace('\u{2028}', "\\u{2028}")
        .replace('\u{2029}', "\\u{2029}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::{Datagram, Ended, Fate, Forged, Line, NodeRecord};
    use handout::{Message, MsgType};
    use std::collections::BTreeMap;

    /// One event of a log, read back.
    #[derive(Debug)]
    struct Parsed {
        host: String,
        clock: BTreeMap<String, u64>,
        event: String,
    }

    /// Reads a log as ShiViz does with [`REGEX`], by hand: pairs of lines,
    /// the first a host without white space, one space and a JSON object
    /// of counts; the second anything.
    fn parse(log: &str) -> Vec<Parsed> {
        assert!(log.ends_with('\n'), "the log ends with a newline");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len() % 2, 0, "lines come in pairs:\n{log}");
        (lines.chunks(2))
            .map(|pair| {
                let (host, clock) = pair[0].split_once(' ').expect("host, space, clock");
                assert!(!host.is_empty() && !host.contains(char::is_whitespace));
                assert!(clock.starts_with('{') && clock.ends_with('}'), "{clock}");
                let clock: BTreeMap<String, u64> =
                    serde_json::from_str(clock).expect("the clock is a JSON object of counts");
                Parsed {
                    host: host.to_string(),
                    clock,
                    event: pair[1].to_string(),
                }
            })
            .collect()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn datagram(at: u64, from: usize, to: usize, kind: MsgType, fate: Fate) -> Datagram {
        let delivered: Vec<Duration> = match fate {
            Fate::Delivered => vec![ms(at + 1)],
            Fate::Duplicated => vec![ms(at + 1), ms(at + 40)],
            _ => vec![],
        };
        Datagram {
            sent: ms(at),
            from,
            to,
            bytes: Message::new(kind, "k", "v").unwrap().encode(),
            fate,
            delays: vec![Duration::ZERO; delivered.len()],
            delivered,
            rule: None,
        }
    }

    /// A client asking a primary that forwards to a backup: a dropped
    /// forward, a retransmission, a duplicated reply, a forgery, process
    /// events and printed lines.
    fn record() -> Record {
        let nodes = vec![
            NodeRecord::new("client"),
            NodeRecord::new("primary"),
            NodeRecord::new("backup0"),
        ];
        let datagrams = vec![
            datagram(10, 0, 1, MsgType::WriteReq, Fate::Delivered),
            datagram(12, 1, 2, MsgType::WriteReq, Fate::Dropped),
            datagram(50, 1, 2, MsgType::WriteReq, Fate::Delivered),
            datagram(52, 2, 1, MsgType::WriteRep, Fate::Delivered),
            datagram(54, 1, 0, MsgType::WriteRep, Fate::Duplicated),
        ];
        let mut r = Record::of(nodes, datagrams);
        let started = |node, at| Event {
            at: ms(at),
            node: Some(node),
            what: What::Started {
                command: vec!["prog".into()],
                pid: 100 + node as i32,
            },
        };
        r.events = vec![
            started(1, 0),
            started(2, 1),
            started(0, 5),
            Event {
                at: ms(60),
                node: None,
                what: What::Healed,
            },
            Event {
                at: ms(100),
                node: Some(0),
                what: What::Exited {
                    status: Ended::Code(0),
                },
            },
        ];
        r.nodes[0].stdout.push(Line {
            at: ms(56),
            text: "Type: WRITE_REP Key: k Value: \u{1b}[31m".into(),
        });
        r.forged.push(Forged {
            sent: ms(50),
            from: 1,
            to: 2,
            stranger: false,
            bytes: Message::new(MsgType::WriteReq, "k", "X").unwrap().encode(),
            rule: 0,
            changes: "value X".into(),
        });
        r
    }

    fn leq(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> bool {
        a.iter().all(|(h, c)| b.get(h).is_some_and(|d| c <= d))
    }

    /// One event per send and per delivered copy, plus the nodes' own
    /// events; each host's own count goes 1, 2, 3 ... (ShiViz refuses
    /// anything else) and no clock ever goes back.
    #[test]
    fn one_event_per_send_and_delivery_with_sound_clocks() {
        let r = record();
        let events = parse(&log(&r));
        let sends = r.datagrams.len();
        let deliveries: usize = r.datagrams.iter().map(|d| d.delivered.len()).sum();
        let locals = 3 + 1; // the starts and the exit; the heal is no node's
        let lines = 1;
        let forged = r.forged.len();
        assert_eq!(events.len(), sends + deliveries + locals + lines + forged);
        let count = |prefix: &str| {
            (events.iter())
                .filter(|e| e.event.split("  ").nth(1) == Some(prefix))
                .count()
        };
        assert_eq!(count("send"), sends);
        assert_eq!(count("receive"), deliveries + forged);

        let mut last: BTreeMap<&str, &BTreeMap<String, u64>> = BTreeMap::new();
        for e in &events {
            assert!(r.node_index(&e.host).is_some(), "unknown host {}", e.host);
            for h in e.clock.keys() {
                assert!(r.node_index(h).is_some(), "unknown host {h} in a clock");
            }
            let own = e.clock[&e.host];
            let before = last.get(e.host.as_str());
            assert_eq!(own, before.map_or(1, |c| c[&e.host] + 1), "{e:?}");
            if let Some(before) = before {
                assert!(leq(before, &e.clock), "{before:?} then {e:?}");
            }
            last.insert(&e.host, &e.clock);
        }
        assert!(!log(&r).contains('\u{1b}'), "control characters spelt out");
    }

    /// A delivery knows all its send knew: its clock is at least the
    /// send's, and the dropped forward is known to no one but its sender.
    #[test]
    fn a_delivery_knows_what_its_send_knew() {
        let r = record();
        let events = parse(&log(&r));
        let find = |verb: &str, at: Duration| {
            let time = format!("{:.3} ms  {verb}  ", at.as_secs_f64() * 1000.0);
            (events.iter())
                .filter(|e| e.event.starts_with(&time))
                .collect::<Vec<_>>()
        };
        for d in &r.datagrams {
            let send = find("send", d.sent);
            assert_eq!(send.len(), 1, "one send at {:?}", d.sent);
            assert_eq!(send[0].host, r.nodes[d.from].name);
            for &at in &d.delivered {
                let got = find("receive", at);
                assert_eq!(got.len(), 1, "one delivery at {at:?}");
                assert_eq!(got[0].host, r.nodes[d.to].name);
                assert!(leq(&send[0].clock, &got[0].clock), "{send:?} -> {got:?}");
            }
        }
        // The dropped forward is the primary's second event (after its
        // start and the client's request); the backup never hears of it
        // until the retransmission, which it receives after it.
        let dropped = find("send", ms(12));
        assert_eq!(dropped[0].clock["primary"], 3);
        let backup = |at| find("receive", at)[0].clock.clone();
        assert_eq!(
            backup(ms(50))["primary"],
            4,
            "the forgery, made of the retransmission"
        );
        assert_eq!(backup(ms(51))["primary"], 4);
        // The client's exit knows of the backup's reply, through the primary.
        let exit = events.last().unwrap();
        assert!(
            exit.event.ends_with("client exited with exit code 0"),
            "{exit:?}"
        );
        assert!(exit.clock.contains_key("backup0"));
    }

    /// The regex names the three groups ShiViz requires, and the log's
    /// line pairs are what it matches.
    #[test]
    fn the_regex_names_host_clock_and_event() {
        for group in ["(?<host>", "(?<clock>", "(?<event>"] {
            assert!(REGEX.contains(group), "{group}");
        }
        assert_eq!(host_name("backup 0", 2), "backup_0");
        assert_eq!(host_name("", 2), "node2");
        assert_eq!(one_line("a\nb\u{2028}c"), "a\\u{a}b\\u{2028}c");
    }
}
