//! `answered`: every request delivered to a node is answered, with the
//! same key, back to its sender.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Unsure, WireKind, Written, at};
use crate::judge::{Check, Failure, Kind, Place, fail};
use crate::run::record::{Record, UnknownNode};
use crate::spec::validate::{self, Invalid};
use crate::spec::{OneOrMany, TestSpec, TypeName};

pub(crate) const KIND: Kind = Kind::new("answered");

/// The fields of an `answered` check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnsweredCheck {
    /// The answering node (a group: each member).
    pub by: String,
    /// Request type.
    pub request: TypeName,
    /// Reply type, or the types of which one answers (`[CACHE_HIT, CACHE_MISS]`).
    pub reply: OneOrMany<TypeName>,
    /// If set, the value every reply must carry.
    #[serde(default)]
    pub value: Option<String>,
}

impl WireKind for AnsweredCheck {
    fn kind(&self) -> Kind {
        KIND
    }

    fn node(&self) -> Option<&str> {
        Some(&self.by)
    }

    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid> {
        validate::node_or_group(t, &self.by, at.field("by"))
    }

    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode> {
        let mut unanswered = Vec::new();
        for by_i in record.members(&self.by)? {
            unanswered.extend(answered(
                record,
                by_i,
                self.request.0,
                &self.reply,
                self.value.as_deref(),
                out,
            ));
        }
        let claim = format!("{} answered every {}", self.by, self.request.0);
        if record.unkept() == 0 {
            out.extend(unanswered);
            return Ok(Unsure::claim(claim));
        }
        let why = match unanswered.len() {
            0 => String::new(),
            1 => "1 request among them has no reply among them; its reply may be among the rest"
                .to_string(),
            n => format!(
                "{n} requests among them have no reply among them; their replies may be among the rest"
            ),
        };
        Ok(Some(Unsure { claim, why }))
    }
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
    // Per receiver: datagrams of a reply's type that are not records, with
    // why, to name them when a request seems unanswered.
    let mut broken: BTreeMap<usize, Vec<(usize, String)>> = BTreeMap::new();
    for (j, d) in log.iter().enumerate() {
        if d.from != by_i {
            continue;
        }
        let m = match d.message() {
            Ok(m) => m,
            Err(e) => {
                if d.kind().is_some_and(|k| reply.has(k)) {
                    broken.entry(d.to).or_default().push((j, e.to_string()));
                }
                continue;
            }
        };
        if reply.has(m.kind) {
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
                    KIND,
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
            let malformed = (broken.get(&d.from))
                .and_then(|b| b.iter().find(|&&(j, _)| j > i))
                .filter(|_| elsewhere.is_none());
            if let Some((j, why)) = malformed {
                return fail(
                    KIND,
                    Some(by),
                    Failure::new(format!(
                        "{by} answered the {request} for key {key} that {} sent at {} with a {}-byte datagram that is not a valid record: {why}",
                        names[d.from],
                        at(d),
                        log[*j].bytes.len(),
                    ))
                    .note(format!(
                        "expected a {} with the same key, laid out as specs/protocol.md says",
                        reply.names()
                    ))
                    .at(Place::Datagram(*j)),
                );
            }
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
                KIND,
                Some(by),
                Failure::new(summary).at(Place::Datagram(i)),
            )
        })
        .collect()
}

/// The replies of one key, to find the first sent after a request to
/// someone other than its sender in O(log n).
#[derive(Debug, Default)]
pub(super) struct Elsewhere {
    /// (index in the record, receiver), in the order sent.
    pub(super) sent: Vec<(usize, usize)>,
    /// For each reply, the position of the first reply from it on whose
    /// receiver differs from its own (or `sent.len()`).
    pub(super) next_other: Vec<usize>,
}

impl Elsewhere {
    pub(super) fn index(&mut self) {
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
    pub(super) fn first_after(&self, i: usize, not: usize) -> Option<usize> {
        let p = self.sent.partition_point(|&(j, _)| j <= i);
        let (_, to) = *self.sent.get(p)?;
        if to != not {
            return Some(to);
        }
        self.sent.get(self.next_other[p]).map(|&(_, to)| to)
    }
}
