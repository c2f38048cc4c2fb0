//! Checks on the datagrams the proxy recorded: who sent what to whom.
//!
//! A transcript shows what a program *says* it did; the wire shows what it
//! did. The course once had a client that printed the right partition and
//! sent to the wrong one: only a wire check catches that.
//!
//! Each check is one pass over the record, or n log n (`answered` keeps an
//! index of replies), so a long record costs time in proportion to its
//! length.
//!
//! # A cut record
//!
//! The record keeps the first `limits.datagrams` datagrams of a test and
//! counts the rest (see [`crate::run::record`]). `count` and the network
//! rules read the counts, so they are exact whatever the length. `answered`,
//! `length` and `well_formed` read datagrams one by one: on a cut record,
//! what they find wrong among the datagrams kept stands, and when that is
//! nothing, they fail as *not judged* ("cannot check that ...: the record
//! kept only the first N of M datagrams"), never pass on what they could
//! see. A request with no reply among the datagrams kept may have its reply
//! among the rest, so on a cut record it is not reported as unanswered: it
//! makes the check not judged. A correct program of a lab sends far fewer
//! datagrams than the bound; if one needs more, the lab's spec raises it.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::flow::{self, Selector};
use super::model;
use super::{Check, Failure, Kind, Place, fail, pass};
use super::{balance, causal, replicas};
use crate::run::record::{Datagram, Record};
use crate::spec::{Match, OneOrMany, TestSpec, TypeName, WireCheck, expr};

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
    // What a check that reads datagrams one by one could not make sure of
    // on a cut record: the claim, and why.
    let mut unsure: Option<(String, String)> = None;
    let kind = match c {
        WireCheck::Answered {
            by,
            request,
            reply,
            value,
        } => {
            let mut unanswered = Vec::new();
            for by_i in record.members(by) {
                unanswered.extend(answered(
                    record,
                    by_i,
                    request.0,
                    reply,
                    value.as_deref(),
                    &mut out,
                ));
            }
            let claim = format!("{by} answered every {}", request.0);
            if record.unkept() == 0 {
                out.extend(unanswered);
            } else if !unanswered.is_empty() {
                let why = match unanswered.len() {
                    1 => "1 request among them has no reply among them; its reply may be among the rest".to_string(),
                    n => format!(
                        "{n} requests among them have no reply among them; their replies may be among the rest"
                    ),
                };
                unsure = Some((claim, why));
            } else {
                unsure = Some((claim, String::new()));
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
            let allowed: Vec<String> = bytes.iter().map(|b| b.to_string()).collect();
            let sender = from
                .as_deref()
                .map_or(String::new(), |f| format!(" {f} sent"));
            unsure = Some((
                format!("every {}{sender} is {} bytes", kind.0, allowed.join(" or ")),
                String::new(),
            ));
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
            unsure = Some((
                format!("every datagram {from} sent is a record"),
                String::new(),
            ));
            Kind::WellFormed
        }
        WireCheck::Count {
            from,
            to,
            kind,
            min,
            max,
        } => {
            // The counts cover every datagram, kept in the record or not.
            let (fs, ts) = (record.members(from), record.members(to));
            let n: usize = fs
                .iter()
                .flat_map(|&f| ts.iter().map(move |&t| (f, t)))
                .map(|(f, t)| record.traffic.links[f][t].of(kind.map(|k| k.0)))
                .sum();
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
        WireCheck::None {
            from,
            to,
            kind,
            after,
            until,
        } => {
            let m = Match {
                from: Some(from.clone()),
                to: Some(to.clone()),
                kind: kind.clone(),
            };
            let sel = Selector::new(record, &m);
            let after = after.as_ref().map(|a| Selector::new(record, a));
            let until = until.as_ref().map(|u| Selector::new(record, u));
            flow::none(record, &sel, after.as_ref(), until.as_ref(), &mut out);
            unsure = Some((format!("{from} sent nothing to {to} then"), String::new()));
            Kind::None
        }
        WireCheck::Routed { from, to, kind, by } => {
            flow::routed(record, from, to, kind.as_ref(), *by, &mut out);
            unsure = Some((
                format!("every datagram from {from} reached the member of {to} its key belongs to"),
                String::new(),
            ));
            Kind::Routed
        }
        WireCheck::Before {
            first,
            then,
            same_key,
            same_value,
        } => {
            let (f, t) = (Selector::new(record, first), Selector::new(record, then));
            flow::before(record, &f, &t, *same_key, *same_value, &mut out);
            unsure = Some((format!("{} came first", f.describe(None)), String::new()));
            Kind::Order
        }
        WireCheck::FollowedBy { each, by, same_key } => {
            let (e, b) = (Selector::new(record, each), Selector::new(record, by));
            flow::followed_by(record, &e, &b, *same_key, &mut out);
            unsure = Some((
                format!("{} followed every {}", b.describe(None), e.describe(None)),
                String::new(),
            ));
            Kind::Order
        }
        WireCheck::Store {
            writes,
            reads,
            replies,
            initial,
        } => {
            let (w, r, p) = (
                Selector::new(record, writes),
                Selector::new(record, reads),
                Selector::new(record, replies),
            );
            model::store(record, &w, &r, &p, initial, &mut out);
            unsure = Some(("every read saw the last write".into(), String::new()));
            Kind::Store
        }
        WireCheck::LruCache { node, capacity } => {
            let Some(i) = idx(node) else {
                return out;
            };
            let vars = |n: &str| record.vars.get(n).cloned();
            match expr::eval(&capacity.0, &vars) {
                Ok(c) if c >= 0.0 && c.fract() == 0.0 => {
                    model::lru(record, i, c as usize, &mut out);
                }
                Ok(c) => out.push(fail(
                    Kind::LruCache,
                    Some(node),
                    Failure::new(format!(
                        "the capacity `{}` is {c}, not a whole number",
                        capacity.0
                    )),
                )),
                Err(e) => out.push(fail(Kind::LruCache, Some(node), Failure::new(e))),
            }
            unsure = Some((format!("{node} behaved as an LRU cache"), String::new()));
            Kind::LruCache
        }
        WireCheck::HappensBefore {
            effect,
            causes,
            since,
        } => {
            causal::happens_before(record, effect, causes, since, &mut out);
            unsure = Some(("every answer waited for its causes".into(), String::new()));
            Kind::HappensBefore
        }
        WireCheck::Choices(ch) => {
            balance::choices(record, ch, &mut out);
            unsure = Some((format!("{} chose well", ch.node), String::new()));
            Kind::Choice
        }
        WireCheck::Share(sh) => {
            balance::share(record, sh, &mut out);
            unsure = Some((
                format!("{}'s share to {} was small enough", sh.from, sh.to),
                String::new(),
            ));
            Kind::Share
        }
        WireCheck::Linearizable(l) => {
            replicas::linearizable(record, l, &mut out);
            unsure = Some(("the history was linearizable".into(), String::new()));
            Kind::Linearizable
        }
        WireCheck::Replicas { nodes } => {
            replicas::replicas(record, nodes, &mut out);
            Kind::Replicas
        }
        WireCheck::PrintedBefore(pb) => {
            causal::printed_before(record, pb, &mut out);
            unsure = Some((format!("{} printed in time", pb.node), String::new()));
            Kind::PrintedBefore
        }
    };
    // On a cut record, a check that found nothing wrong among the datagrams
    // kept is not judged: the rest could break it.
    if let Some((claim, why)) = unsure
        && out.is_empty()
        && record.unkept() > 0
    {
        out.push(fail(kind, wire_node(c), not_judged(record, &claim, &why)));
    }
    if out.is_empty() {
        out.push(pass(kind, wire_node(c)));
    }
    out
}

/// The failure of a check that a cut record kept from judging.
fn not_judged(record: &Record, claim: &str, why: &str) -> Failure {
    let kept = record.datagrams.len();
    let all = record.traffic.received();
    let mut f = Failure::new(format!(
        "cannot check that {claim}: the record kept only the first {kept} of {all} datagrams (limits.datagrams)"
    ));
    if !why.is_empty() {
        f = f.note(why);
    }
    f.note(format!(
        "{} more datagrams were not kept; a correct program of this lab sends far fewer. If one needs more, raise `limits.datagrams` in the lab's spec",
        record.unkept()
    ))
}

/// `answered`: pushes onto `out` what is certainly wrong (a reply with the
/// wrong value) and returns the requests with no reply to their sender
/// among the datagrams kept, as failures: certain on a whole record,
/// uncertain on a cut one.
///
/// Replies are indexed per (receiver, key) in the order they were sent,
/// and each reply answers one request, the first one before it: one pass
/// to index, one to match, a binary search to say where a missing reply
/// went instead.
fn answered(
    record: &Record,
    by_i: usize,
    request: handout::MsgType,
    reply: &OneOrMany<TypeName>,
    value: Option<&str>,
    out: &mut Vec<Check>,
) -> Vec<Check> {
    let names: Vec<&str> = record.nodes.iter().map(|n| n.name.as_str()).collect();
    let by = names[by_i];
    let log = &record.datagrams;
    // Replies of the right type sent by `by`, per (receiver, key), in the
    // order they were sent.
    let mut replies: BTreeMap<(usize, String), VecDeque<usize>> = BTreeMap::new();
    // And per key alone, to say where a misrouted reply went.
    let mut by_key: BTreeMap<String, Elsewhere> = BTreeMap::new();
    // Per (receiver, key): when a reply last reached the receiver.
    let mut reached: BTreeMap<(usize, String), Duration> = BTreeMap::new();
    for (j, d) in log.iter().enumerate() {
        if d.from != by_i {
            continue;
        }
        if let Ok(m) = d.message()
            && reply.has(m.kind)
        {
            if let Some(&last) = d.delivered.iter().max() {
                let r = reached.entry((d.to, m.key.clone())).or_default();
                *r = (*r).max(last);
            }
            replies
                .entry((d.to, m.key.clone()))
                .or_default()
                .push_back(j);
            by_key.entry(m.key).or_default().sent.push((j, d.to));
        }
    }
    for e in by_key.values_mut() {
        e.index();
    }
    // Each copy that reached `by` is known by (when it arrived, its
    // datagram, which copy): the order `by` could read them in.
    let mut last_answered = None;
    let mut unanswered = Vec::new();
    for (i, d) in log.iter().enumerate() {
        if d.to != by_i || d.kind() != Some(request) {
            continue;
        }
        let Ok(req) = d.message() else { continue };
        // Only the copies that reached `by`: one a delay still held when
        // the test ended never did.
        for (k, &came) in d.delivered.iter().enumerate() {
            let copy = (came, i, k);
            let queue = replies.entry((d.from, req.key.clone())).or_default();
            while queue.front().is_some_and(|&j| j < i) {
                queue.pop_front();
            }
            let Some(j) = queue.pop_front() else {
                // A reply with its key reached the sender after this copy
                // left it: the sender was answered anyway.
                let anyway = reached
                    .get(&(d.from, req.key.clone()))
                    .is_some_and(|&r| r > d.sent);
                unanswered.push((copy, anyway, i, d, req.key.clone()));
                continue;
            };
            last_answered = last_answered.max(Some(copy));
            if let (Some(v), Ok(m)) = (value, log[j].message())
                && m.value != v
            {
                out.push(fail(
                    Kind::Answered,
                    Some(by),
                    Failure {
                        expected: Some(format!("value {v}")),
                        actual: Some(format!("value {}", m.value)),
                        ..Failure::new(format!(
                            "{by} answered the {request} for key {} from {} with value `{}`; expected `{v}`",
                            req.key, names[d.from], m.value
                        ))
                    }
                    .at(Place::Datagram(j)),
                ));
            }
        }
    }
    // A copy still queued when the run ended needs no answer if its sender
    // was answered anyway: a correct program may be stopped with it
    // unread, and one that sees a signal and a waiting datagram at once
    // may take the signal first. Still queued: no copy that reached `by`
    // after it was answered (a program reads its socket in order).
    unanswered
        .into_iter()
        .filter(|&(copy, anyway, ..)| !(anyway && last_answered < Some(copy)))
        .map(|(_, _, i, d, key)| {
            let elsewhere = by_key.get(&key).and_then(|e| e.first_after(i, d.from));
            let summary = match elsewhere {
                Some(to) => format!(
                    "{by} sent the {} for key {key} (a {request} from {}) to {} instead of back to {}",
                    reply.names(),
                    names[d.from],
                    names[to],
                    names[d.from]
                ),
                None => format!(
                    "{by} never answered the {request} for key {key} that {} sent at {} (expected a {} with the same key, sent back to {})",
                    names[d.from],
                    at(d),
                    reply.names(),
                    names[d.from]
                ),
            };
            fail(
                Kind::Answered,
                Some(by),
                Failure::new(summary).at(Place::Datagram(i)),
            )
        })
        .collect()
}

/// The replies of one key, to find the first sent after a request to
/// someone other than its sender in O(log n).
#[derive(Debug, Default)]
struct Elsewhere {
    /// (index in the record, receiver), in the order sent.
    sent: Vec<(usize, usize)>,
    /// For each reply, the position of the first reply from it on whose
    /// receiver differs from its own (or `sent.len()`).
    next_other: Vec<usize>,
}

impl Elsewhere {
    fn index(&mut self) {
        let n = self.sent.len();
        self.next_other = vec![n; n];
        for p in (0..n.saturating_sub(1)).rev() {
            self.next_other[p] = if self.sent[p].1 != self.sent[p + 1].1 {
                p + 1
            } else {
                self.next_other[p + 1]
            };
        }
    }

    /// The receiver of the first reply sent after datagram `i` to someone
    /// other than `not`.
    fn first_after(&self, i: usize, not: usize) -> Option<usize> {
        let p = self.sent.partition_point(|&(j, _)| j <= i);
        let (_, to) = *self.sent.get(p)?;
        if to != not {
            return Some(to);
        }
        self.sent.get(self.next_other[p]).map(|&(_, to)| to)
    }
}

fn wire_node(c: &WireCheck) -> Option<&str> {
    match c {
        WireCheck::Answered { by, .. } => Some(by),
        WireCheck::Length { from, .. } => from.as_deref(),
        WireCheck::WellFormed { from } => Some(from),
        WireCheck::Count { from, .. } => Some(from),
        WireCheck::None { from, .. } => Some(from),
        WireCheck::Routed { from, .. } => Some(from),
        WireCheck::Before { then, .. } => then.from.as_deref(),
        WireCheck::FollowedBy { by, .. } => by.from.as_deref(),
        WireCheck::Store { replies, .. } => replies.to.as_deref(),
        WireCheck::LruCache { node, .. } => Some(node),
        WireCheck::HappensBefore { effect, .. } => effect.from.as_deref(),
        WireCheck::Choices(c) => Some(&c.node),
        WireCheck::Share(c) => Some(&c.from),
        WireCheck::Linearizable(c) => Some(&c.server),
        WireCheck::Replicas { .. } => None,
        WireCheck::PrintedBefore(c) => Some(&c.node),
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
            // The counts cover every datagram, kept in the record or not.
            let fired = record.traffic.fired.get(i).copied().unwrap_or(0);
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
    use crate::run::record::{Fate, NodeRecord};
    use crate::spec::TypeName;
    use handout::{Message, MsgType};
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
            // Every copy the network passes on leaves the proxy at once.
            delivered: vec![Duration::from_millis(at); fate.copies()],
            rule: None,
        }
    }

    fn record(log: Vec<Datagram>) -> Record {
        let node = NodeRecord::new;
        Record::of(vec![node("server"), node("client1"), node("client2")], log)
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
            reply: crate::spec::OneOrMany::One(TypeName(MsgType::ReadRep)),
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
            dg(3, 1, 0, MsgType::ReadReq, "K2", Fate::Delivered),
            dg(4, 0, 1, MsgType::ReadRep, "K2", Fate::Delivered),
        ];
        assert_eq!(
            failures(&answered(), dup.clone()).len(),
            1,
            "a duplicated request is answered twice"
        );
        assert!(
            failures(&answered(), dup[..2].to_vec()).is_empty(),
            "unless its second copy may still have been queued at the end"
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

    /// A retransmission that reached the server after the client had its
    /// answer asked for nothing: the server may have been stopped with it
    /// still queued. A copy a delay still held when the test ended never
    /// reached the server. Neither needs an answer; a copy the client
    /// still needed does.
    #[test]
    fn a_copy_needs_an_answer_only_if_it_reached_a_sender_still_waiting() {
        let mut held = dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered);
        held.delivered.clear();
        assert!(failures(&answered(), vec![held]).is_empty());
        let retransmitted = vec![
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
            dg(3, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
        ];
        // The reply, delayed, reaches the client after its second copy left.
        let mut log = retransmitted.clone();
        log[1].delivered = vec![Duration::from_millis(4)];
        assert!(failures(&answered(), log).is_empty());
        // Lost instead: the client never had its answer.
        let mut log = retransmitted;
        log[1].delivered.clear();
        let f = failures(&answered(), log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("that client1 sent at 3 ms"), "{f:?}");
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

    #[test]
    fn a_misrouted_reply_is_found_past_those_to_the_sender() {
        let mut e = Elsewhere {
            sent: vec![(2, 1), (3, 1), (5, 1), (8, 2), (9, 1)],
            ..Elsewhere::default()
        };
        e.index();
        assert_eq!(e.first_after(0, 1), Some(2), "past three replies to 1");
        assert_eq!(e.first_after(0, 2), Some(1));
        assert_eq!(e.first_after(8, 1), None, "after 8, only one to 1");
        assert_eq!(e.first_after(9, 2), None);
        // Many requests, their replies all sent back late, half missing:
        // each missing one still finds nothing elsewhere, in one search.
        let mut log = Vec::new();
        for i in 0..4_000 {
            log.push(dg(i, 1, 0, MsgType::ReadReq, "K", Fate::Delivered));
        }
        // Lost on their way back, so none reached the client: each request
        // still needed its own reply.
        for i in 0..2_000 {
            log.push(dg(5_000 + i, 0, 1, MsgType::ReadRep, "K", Fate::Dropped));
        }
        let f = failures(&answered(), log);
        assert_eq!(f.len(), 2_000);
        assert!(f.iter().all(|m| m.contains("never answered")), "{}", f[0]);
    }

    /// A record cut after its first `kept` datagrams, of `log`.
    fn cut(log: Vec<Datagram>, kept: usize) -> Record {
        let mut r = record(log);
        r.datagrams.truncate(kept);
        r
    }

    fn summaries(checks: Vec<Check>) -> Vec<String> {
        checks
            .into_iter()
            .filter_map(|c| c.failure.map(|f| f.summary))
            .collect()
    }

    #[test]
    fn a_cut_record_never_lets_a_check_pass_on_what_it_could_not_see() {
        let mut log = vec![
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
            dg(3, 1, 0, MsgType::ReadReq, "K2", Fate::Delivered),
        ];
        let mut short = dg(4, 1, 0, MsgType::ReadReq, "K3", Fate::Delivered);
        short.bytes.truncate(17);
        log.push(short);
        log.push(dg(5, 0, 1, MsgType::ReadRep, "K2", Fate::Delivered));
        log.push(dg(6, 0, 1, MsgType::ReadRep, "K3", Fate::Delivered));
        // Whole, the record passes `answered`; cut after 3, the reply to K2
        // is among what was not kept: not judged, not failed for a reply
        // the program did send.
        assert!(failures(&answered(), log.clone()).is_empty());
        let r = cut(log.clone(), 3);
        let f = summaries(check(&answered(), &r));
        assert_eq!(
            f,
            [
                "cannot check that server answered every READ_REQ: the record kept only the first 3 of 6 datagrams (limits.datagrams)"
            ]
        );
        let r = cut(log.clone(), 2);
        let notes = check(&answered(), &r)[0].failure.clone().unwrap().notes;
        assert!(
            notes[notes.len() - 1].starts_with("4 more datagrams were not kept"),
            "{notes:?}"
        );
        // A wrong length among the datagrams kept stands as it is; one
        // among the rest makes the check not judged.
        let length = WireCheck::Length {
            kind: TypeName(MsgType::ReadReq),
            bytes: vec![33],
            from: None,
        };
        assert!(summaries(check(&length, &cut(log.clone(), 4)))[0].contains("of 17 bytes"));
        let f = summaries(check(&length, &cut(log.clone(), 3)));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].starts_with("cannot check that every READ_REQ is 33 bytes"),
            "{f:?}"
        );
        // Counts are exact whatever was kept.
        let count = WireCheck::Count {
            from: "client1".into(),
            to: "server".into(),
            kind: Some(TypeName(MsgType::ReadReq)),
            min: Some(3),
            max: Some(3),
        };
        assert!(summaries(check(&count, &cut(log, 1))).is_empty());
    }
}
