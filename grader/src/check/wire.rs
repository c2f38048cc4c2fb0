//! Checks on the datagrams the proxy recorded: who sent what to whom.
//!
//! A transcript shows what a program *says* it did; the wire shows what it
//! did. The course once had a client that printed the right partition and
//! sent to the wrong one: only a wire check catches that.
//!
//! Each check is one pass over the record (`answered` keeps an index of
//! replies), so a long record costs time in proportion to its length.

use std::collections::{BTreeMap, VecDeque};

use handout::Message;

use super::{Check, Failure, Kind, Place, fail, pass};
use crate::run::record::{Datagram, Record};
use crate::spec::{TestSpec, WireCheck};

fn at(d: &Datagram) -> String {
    format!("{} ms", d.sent.as_millis())
}

/// Runs one wire check; each problem is one failed [`Check`], and a check
/// that holds is one passed [`Check`].
pub fn check(c: &WireCheck, record: &Record) -> Vec<Check> {
    let names: Vec<&str> = record.nodes.iter().map(|n| n.name.as_str()).collect();
    let idx = |n: &str| names.iter().position(|x| *x == n);
    let log = &record.datagrams;
    let mut out = Vec::new();
    let kind = match c {
        WireCheck::Answered {
            by,
            request,
            reply,
            value,
        } => {
            let Some(by_i) = idx(by) else {
                return out;
            };
            // Replies of the right type sent by `by`, per (receiver, key),
            // in the order they were sent.
            let mut replies: BTreeMap<(usize, String), VecDeque<usize>> = BTreeMap::new();
            // And per key alone, to say where a misrouted reply went.
            let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (j, d) in log.iter().enumerate() {
                if d.from != by_i {
                    continue;
                }
                if let Ok(m) = d.message()
                    && m.kind == reply.0
                {
                    replies
                        .entry((d.to, m.key.clone()))
                        .or_default()
                        .push_back(j);
                    by_key.entry(m.key).or_default().push(j);
                }
            }
            for (i, d) in log.iter().enumerate() {
                let Ok(req) = d.message() else { continue };
                if d.to != by_i || req.kind != request.0 {
                    continue;
                }
                for _ in 0..d.fate.copies() {
                    let queue = replies.entry((d.from, req.key.clone())).or_default();
                    while queue.front().is_some_and(|&j| j < i) {
                        queue.pop_front();
                    }
                    match queue.pop_front() {
                        Some(j) => {
                            if let (Some(v), Ok(m)) = (value, Message::decode(&log[j].bytes))
                                && m.value != *v
                            {
                                out.push(fail(
                                    Kind::Answered,
                                    Some(by),
                                    Failure {
                                        expected: Some(format!("value {v}")),
                                        actual: Some(format!("value {}", m.value)),
                                        ..Failure::new(format!(
                                            "{by} answered the {} for key {} from {} with value `{}`; expected `{v}`",
                                            request.0, req.key, names[d.from], m.value
                                        ))
                                    }
                                    .at(Place::Datagram(j)),
                                ));
                            }
                        }
                        None => {
                            let elsewhere = by_key
                                .get(&req.key)
                                .and_then(|v| v.iter().find(|&&j| j > i && log[j].to != d.from));
                            let summary = match elsewhere {
                                Some(&j) => format!(
                                    "{by} sent the {} for key {} (a {} from {}) to {} instead of back to {}",
                                    reply.0,
                                    req.key,
                                    request.0,
                                    names[d.from],
                                    names[log[j].to],
                                    names[d.from]
                                ),
                                None => format!(
                                    "{by} never answered the {} for key {} that {} sent at {} (expected a {} with the same key, sent back to {})",
                                    request.0,
                                    req.key,
                                    names[d.from],
                                    at(d),
                                    reply.0,
                                    names[d.from]
                                ),
                            };
                            out.push(fail(
                                Kind::Answered,
                                Some(by),
                                Failure::new(summary).at(Place::Datagram(i)),
                            ));
                        }
                    }
                }
            }
            Kind::Answered
        }
        WireCheck::Length { kind, bytes, from } => {
            let from_i = from.as_deref().and_then(idx);
            for (i, d) in log.iter().enumerate() {
                if from.is_some() && Some(d.from) != from_i {
                    continue;
                }
                if d.kind() == Some(kind.0) && !bytes.contains(&d.bytes.len()) {
                    let allowed: Vec<String> = bytes.iter().map(|b| b.to_string()).collect();
                    out.push(fail(
                        Kind::Length,
                        Some(names[d.from]),
                        Failure {
                            expected: Some(format!("{} bytes", allowed.join(" or "))),
                            actual: Some(format!("{} bytes", d.bytes.len())),
                            ..Failure::new(format!(
                                "{} sent a {} of {} bytes to {} at {}; expected {} bytes",
                                names[d.from],
                                kind.0,
                                d.bytes.len(),
                                names[d.to],
                                at(d),
                                allowed.join(" or ")
                            ))
                        }
                        .at(Place::Datagram(i)),
                    ));
                }
            }
            Kind::Length
        }
        WireCheck::WellFormed { from } => {
            let Some(from_i) = idx(from) else {
                return out;
            };
            for (i, d) in log.iter().enumerate().filter(|(_, d)| d.from == from_i) {
                if let Err(e) = d.message() {
                    out.push(fail(
                        Kind::WellFormed,
                        Some(from),
                        Failure::new(format!(
                            "{from} sent a malformed datagram to {} at {}: {e}",
                            names[d.to],
                            at(d)
                        ))
                        .at(Place::Datagram(i)),
                    ));
                }
            }
            Kind::WellFormed
        }
        WireCheck::Count {
            from,
            to,
            kind,
            min,
            max,
        } => {
            let (Some(f), Some(t)) = (idx(from), idx(to)) else {
                return out;
            };
            let n = log
                .iter()
                .filter(|d| d.from == f && d.to == t)
                .filter(|d| kind.is_none_or(|k| d.kind() == Some(k.0)))
                .count();
            let what = |n: usize| {
                let s = if n == 1 { "" } else { "s" };
                kind.map_or(format!("datagram{s}"), |k| format!("{}{s}", k.0))
            };
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let range = match (min, max) {
                    (Some(a), Some(b)) if a == b => format!("exactly {a}"),
                    (Some(a), Some(b)) => format!("{a} to {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => String::new(),
                };
                out.push(fail(
                    Kind::Count,
                    Some(from),
                    Failure {
                        expected: Some(format!("{range} {}", what(2))),
                        actual: Some(format!("{n} {}", what(n))),
                        ..Failure::new(format!(
                            "{from} sent {n} {} to {to}; expected {range}",
                            what(n)
                        ))
                    },
                ));
            }
            Kind::Count
        }
    };
    if out.is_empty() {
        out.push(pass(kind, wire_node(c)));
    }
    out
}

fn wire_node(c: &WireCheck) -> Option<&str> {
    match c {
        WireCheck::Answered { by, .. } => Some(by),
        WireCheck::Length { from, .. } => from.as_deref(),
        WireCheck::WellFormed { from } => Some(from),
        WireCheck::Count { from, .. } => Some(from),
    }
}

/// Whether every rule of the test's network found the datagrams it names:
/// a rule that fired fewer times than it must made the run prove nothing.
pub fn rules(test: &TestSpec, record: &Record) -> Vec<Check> {
    test.network
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let fired = record.datagrams.iter().filter(|d| d.rule == Some(i)).count();
            let need = rule.required();
            if fired >= need {
                pass(Kind::Rule, None)
            } else {
                fail(
                    Kind::Rule,
                    None,
                    Failure {
                        expected: Some(format!("{need} datagram(s)")),
                        actual: Some(format!("{fired}")),
                        ..Failure::new(format!(
                            "the network rule `{rule}` found {fired} of the {need} datagram(s) it names: this run never exercised the fault the test is about"
                        ))
                    }
                    .note("the run is void: it neither passes nor fails; run the test again, and if it is void every time, the program never sends what the rule names"),
                )
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::{Fate, NodeRecord, Traffic};
    use crate::spec::TypeName;
    use handout::MsgType;
    use std::time::Duration;

    fn dg(at: u64, from: usize, to: usize, kind: MsgType, key: &str, fate: Fate) -> Datagram {
        let m = Message::new(kind, key, "DDDCCCCBBBBAAAA").unwrap();
        Datagram {
            sent: Duration::from_millis(at),
            from,
            to,
            bytes: m.encode_full().to_vec(),
            fate,
            delays: vec![],
            delivered: vec![],
            rule: None,
        }
    }

    fn record(log: Vec<Datagram>) -> Record {
        let node = NodeRecord::new;
        Record {
            test: "t".into(),
            seed: 0,
            nodes: vec![node("server"), node("client1"), node("client2")],
            events: vec![],
            traffic: Traffic::of(3, &log),
            datagrams: log,
            duration: Duration::ZERO,
            limit: Duration::from_secs(10),
        }
    }

    fn failures(c: &WireCheck, log: Vec<Datagram>) -> Vec<String> {
        check(c, &record(log))
            .into_iter()
            .filter_map(|c| c.failure.map(|f| f.summary))
            .collect()
    }

    fn answered() -> WireCheck {
        WireCheck::Answered {
            by: "server".into(),
            request: TypeName(MsgType::ReadReq),
            reply: TypeName(MsgType::ReadRep),
            value: None,
        }
    }

    #[test]
    fn every_delivered_request_needs_a_reply_to_its_sender() {
        let ok = vec![
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        assert!(failures(&answered(), ok).is_empty());
        let dropped = vec![dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Dropped)];
        assert!(
            failures(&answered(), dropped).is_empty(),
            "a lost request needs no answer"
        );
        let silent = vec![dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered)];
        assert!(failures(&answered(), silent)[0].contains("never answered"));
        let misrouted = vec![
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 2, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        assert!(
            failures(&answered(), misrouted)[0].contains("to client2 instead of back to client1")
        );
        let dup = vec![
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Duplicated),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        assert_eq!(
            failures(&answered(), dup).len(),
            1,
            "a duplicated request is answered twice"
        );
        let early = vec![
            dg(1, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
            dg(2, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
        ];
        assert_eq!(
            failures(&answered(), early).len(),
            1,
            "a reply sent before the request does not count"
        );
    }

    #[test]
    fn each_reply_answers_one_request_of_its_key_in_order() {
        // Many requests share few keys: every request needs its own reply,
        // sent after it; a reply is never counted twice.
        let mut log = Vec::new();
        for i in 0..2_000 {
            let key = format!("K{}", i % 50);
            log.push(dg(i, 1, 0, MsgType::ReadReq, &key, Fate::Delivered));
            log.push(dg(i, 0, 1, MsgType::ReadRep, &key, Fate::Delivered));
        }
        assert!(failures(&answered(), log.clone()).is_empty());
        log.remove(log.len() - 1);
        let f = failures(&answered(), log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].contains("never answered the READ_REQ for key K49"),
            "{f:?}"
        );
    }

    #[test]
    fn lengths_and_counts() {
        let mut short = dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered);
        short.bytes.truncate(17);
        let c = WireCheck::Length {
            kind: TypeName(MsgType::ReadReq),
            bytes: vec![33],
            from: None,
        };
        assert!(failures(&c, vec![short.clone()])[0].contains("of 17 bytes"));
        let c = WireCheck::Count {
            from: "client1".into(),
            to: "server".into(),
            kind: None,
            min: Some(2),
            max: None,
        };
        assert!(
            failures(&c, vec![short])[0].contains("sent 1 datagram to server; expected at least 2")
        );
        let mut bad = dg(0, 1, 0, MsgType::ReadReq, "K", Fate::Delivered);
        bad.bytes = vec![1, 2, 3];
        let c = WireCheck::WellFormed {
            from: "client1".into(),
        };
        assert!(failures(&c, vec![bad])[0].contains("malformed"));
    }
}
