//! Checks of load balancing: `choices` and `share`.
//!
//! # Requests in flight, from the record
//!
//! A node that balances load prints each choice it makes: the request's
//! key, the two candidates and the one it chose. The record shows the
//! rest: when each request left (the proxy received it) and when each
//! reply reached the node (the proxy delivered it). A reply from peer p
//! with key k ends the oldest request to p with key k still in flight;
//! copies of a request (retransmissions) are the same request.
//!
//! What the node *knew* when it chose is not on the wire: a reply may have
//! reached its socket a moment before it chose, unread. The node reads
//! replies in the order they arrive, so what it had read is some prefix of
//! the replies delivered before the request left, and that prefix only
//! grows from one choice to the next. The check asks whether *some*
//! growing prefix explains every choice; it takes, at each choice, the
//! shortest prefix that does, which leaves the most room for the next.
//! "Read nothing" would explain any choice made by counting requests
//! *sent*; the node's window closes that door: a node that keeps at most W
//! requests in flight had, before its (n+1)-th request, read the replies
//! to at least n - (W - 1) of the n before.
//! A choice that no prefix explains is a wrong choice, whatever the timing.
//!
//! # Shares
//! `share` counts datagrams: of those a node sent to a group, the share
//! that went to one member, alone or compared with another sender's share
//! in the same test (so that both meet the same servers, the same speed).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::wire::choices::ChoicesCheck;
use super::wire::share::ShareCheck;
use super::wire::{choices, share};
use super::{Check, Failure, Place, fail, transcript_vars};
use crate::run::record::{Record, UnknownNode};
use crate::run::select::Selector;
use crate::spec::{Match, OneOrMany, TypeName, pattern};

/// One printed choice.
struct Choice {
    /// Its line, from 0.
    line: usize,
    key: String,
    chosen: usize,
    first: usize,
    second: usize,
}

/// `choices`: the candidates differ, and the chosen one had no more
/// requests in flight than the other.
pub fn choices(record: &Record, c: &ChoicesCheck, out: &mut Vec<Check>) -> Result<(), UnknownNode> {
    let i = record.node(&c.node)?;
    let peers = record.members(&c.peers)?;
    let place = |line: usize| Place::Line {
        stream: c.stream,
        line: line + 1,
    };
    let failure = |f: Failure| fail(choices::KIND, Some(&c.node), f);
    let picked = match parse_choices(record, i, c, peers.len()) {
        Ok(p) => p,
        Err((line, why)) => {
            out.push(failure(Failure::new(why).at(place(line))));
            return Ok(());
        }
    };
    if picked.is_empty() {
        out.push(failure(
            Failure::new(format!(
                "{} printed no line like `{}` on {}: its choices cannot be checked",
                c.node, c.line, c.stream
            ))
            .showing(i, &[c.stream]),
        ));
        return Ok(());
    }
    if c.distinct {
        for p in picked.iter().filter(|p| p.first == p.second) {
            out.push(failure(
                Failure::new(format!(
                    "{} drew the same candidate twice for key {}: {} and {}",
                    c.node, p.key, p.first, p.second
                ))
                .note("the two candidates must be two different peers: draw the second among the others")
                .at(place(p.line)),
            ));
        }
    }
    if c.least_in_flight {
        in_flight(record, i, c, &peers, &picked, out);
    }
    Ok(())
}

/// The node's choice lines, in order.
fn parse_choices(
    record: &Record,
    i: usize,
    c: &ChoicesCheck,
    peers: usize,
) -> Result<Vec<Choice>, (usize, String)> {
    let vars = transcript_vars(record, i);
    let Ok(tokens) = pattern::parse(&c.line) else {
        return Ok(Vec::new());
    };
    let mut picked = Vec::new();
    for (line, l) in record.nodes[i].lines(c.stream).iter().enumerate() {
        let Some(got) = pattern::match_line(&tokens, &l.text, &vars, 0) else {
            continue;
        };
        let get = |name: &str| {
            got.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let index = |name: &str| -> Result<usize, (usize, String)> {
            let text = get(name);
            match text.parse::<usize>() {
                Ok(n) if n < peers => Ok(n),
                _ => Err((
                    line,
                    format!(
                        "{} printed `{}`: {name} `{text}` is not a peer's number, from 0 to {}",
                        c.node,
                        l.text,
                        peers.saturating_sub(1)
                    ),
                )),
            }
        };
        let p = Choice {
            line,
            key: get("key"),
            chosen: index("chosen")?,
            first: index("first")?,
            second: index("second")?,
        };
        if p.chosen != p.first && p.chosen != p.second {
            return Err((
                line,
                format!(
                    "{} printed `{}`: it chose {}, which is neither candidate",
                    c.node, l.text, p.chosen
                ),
            ));
        }
        picked.push(p);
    }
    Ok(picked)
}

/// The request datagrams of each choice: the first datagram to the chosen
/// peer with its key not taken by an earlier choice. Returns when each
/// request left, or the choice that sent nothing.
fn sends(
    record: &Record,
    i: usize,
    request: TypeName,
    peers: &[usize],
    picked: &[Choice],
) -> Result<Vec<Duration>, usize> {
    let mut queue: BTreeMap<(usize, String), VecDeque<Duration>> = BTreeMap::new();
    for d in &record.datagrams {
        if d.from != i || !peers.contains(&d.to) {
            continue;
        }
        if let Ok(m) = d.message()
            && m.kind == request.0
        {
            queue.entry((d.to, m.key)).or_default().push_back(d.sent);
        }
    }
    let mut at = Vec::with_capacity(picked.len());
    for (n, p) in picked.iter().enumerate() {
        let copies = queue.get_mut(&(peers[p.chosen], p.key.clone()));
        match copies.and_then(VecDeque::pop_front) {
            Some(t) => at.push(t),
            None => return Err(n),
        }
    }
    Ok(at)
}

/// The replies the node got, in the order delivered: (when, peer index,
/// the choice it ended), or None for one that ended no request in flight.
fn replies(
    record: &Record,
    i: usize,
    reply: TypeName,
    peers: &[usize],
    picked: &[Choice],
    sent: &[Duration],
) -> Vec<(Duration, usize, Option<usize>)> {
    let mut arrivals: Vec<(Duration, usize, String)> = Vec::new();
    for d in &record.datagrams {
        let Some(p) = peers.iter().position(|&x| x == d.from) else {
            continue;
        };
        if d.to != i {
            continue;
        }
        if let Ok(m) = d.message()
            && m.kind == reply.0
        {
            arrivals.extend(d.delivered.iter().map(|&t| (t, p, m.key.clone())));
        }
    }
    arrivals.sort_by_key(|a| a.0);
    // The requests in flight per (peer, key), oldest first, as of each arrival.
    let mut order: Vec<usize> = (0..picked.len()).collect();
    order.sort_by_key(|&n| sent[n]);
    let mut next = 0;
    let mut flying: BTreeMap<(usize, String), VecDeque<usize>> = BTreeMap::new();
    let mut out = Vec::with_capacity(arrivals.len());
    for (t, p, key) in arrivals {
        while next < order.len() && sent[order[next]] < t {
            let n = order[next];
            flying
                .entry((picked[n].chosen, picked[n].key.clone()))
                .or_default()
                .push_back(n);
            next += 1;
        }
        let ended = flying.get_mut(&(p, key)).and_then(VecDeque::pop_front);
        out.push((t, p, ended));
    }
    out
}

/// The node reads one more reply: the one after the `read` it had; a
/// reply that ended a request ends it at its peer.
fn read_next(got: &[(Duration, usize, Option<usize>)], read: &mut usize, ended: &mut [usize]) {
    if let (_, q, Some(_)) = got[*read] {
        ended[q] += 1;
    }
    *read += 1;
}

/// `least_in_flight`: see the module docs.
fn in_flight(
    record: &Record,
    i: usize,
    c: &ChoicesCheck,
    peers: &[usize],
    picked: &[Choice],
    out: &mut Vec<Check>,
) {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let sent = match sends(record, i, c.request, peers, picked) {
        Ok(s) => s,
        Err(n) => {
            let p = &picked[n];
            out.push(fail(
                choices::KIND,
                Some(&c.node),
                Failure::new(format!(
                    "{} printed that it chose {} ({}) for key {}, but sent no {} for that key there",
                    c.node, p.chosen, names[peers[p.chosen]], p.key, c.request.0
                ))
                .at(Place::Line {
                    stream: c.stream,
                    line: p.line + 1,
                }),
            ));
            return;
        }
    };
    let got = replies(record, i, c.reply, peers, picked, &sent);
    // `read`: how many of `got` the node had read; `ended[p]`: requests to
    // peer p those replies ended.
    let mut read = 0;
    let mut ended = vec![0usize; peers.len()];
    let mut sent_to = vec![0usize; peers.len()];
    for (n, p) in picked.iter().enumerate() {
        let other = if p.chosen == p.first {
            p.second
        } else {
            p.first
        };
        let known = got.partition_point(|g| g.0 < sent[n]);
        let flying = |ended: &[usize], q: usize| sent_to[q] - ended[q].min(sent_to[q]);
        // With at most W in flight, the node had read the replies that
        // ended at least n - (W - 1) of its n earlier requests.
        if let Some(w) = c.window {
            let needed = n.saturating_sub(w.saturating_sub(1));
            while ended.iter().sum::<usize>() < needed && read < known {
                read_next(&got, &mut read, &mut ended);
            }
        }
        let before = (read, ended.clone());
        let mut ok = flying(&ended, p.chosen) <= flying(&ended, other);
        while !ok && read < known {
            read_next(&got, &mut read, &mut ended);
            ok = flying(&ended, p.chosen) <= flying(&ended, other);
        }
        if !ok {
            let now = flying(&ended, p.chosen);
            let then = flying(&before.1, p.chosen);
            let (other_now, other_then) = (flying(&ended, other), flying(&before.1, other));
            out.push(fail(
                choices::KIND,
                Some(&c.node),
                Failure {
                    expected: Some(format!(
                        "the candidate with fewer requests in flight: {other} ({})",
                        names[peers[other]]
                    )),
                    actual: Some(format!(
                        "{} ({}), with {} in flight against {} (counting every reply delivered by then; {} against {} counting only those it had surely read)",
                        p.chosen, names[peers[p.chosen]], now, other_now, then, other_then
                    )),
                    ..Failure::new(format!(
                        "{}'s request for key {} at {} ms went to the more loaded candidate",
                        c.node,
                        p.key,
                        sent[n].as_millis()
                    ))
                }
                .note("a request is in flight from when it is first sent until its reply arrives; retransmissions do not count again")
                .at(Place::Line {
                    stream: c.stream,
                    line: p.line + 1,
                }),
            ));
            // Judge the next choice from everything delivered by now.
            while read < known {
                read_next(&got, &mut read, &mut ended);
            }
        }
        sent_to[p.chosen] += 1;
    }
}

/// The share of `from`'s datagrams to `among` (of `kind`) that went to `to`:
/// (to `to`, to all).
fn counts(
    record: &Record,
    from: &str,
    to: &str,
    among: &str,
    kind: Option<TypeName>,
) -> Result<(usize, usize), UnknownNode> {
    let m = Match {
        from: Some(from.to_string()),
        to: Some(among.to_string()),
        kind: kind.map(OneOrMany::One),
    };
    let all = Selector::new(record, &m)?;
    let target = Some(record.node(to)?);
    let (mut part, mut whole) = (0, 0);
    for d in &record.datagrams {
        if all.take(d).is_some() {
            whole += 1;
            part += usize::from(Some(d.to) == target);
        }
    }
    Ok((part, whole))
}

fn percent(part: usize, whole: usize) -> String {
    format!(
        "{:.1}% ({part} of {whole})",
        100.0 * part as f64 / whole as f64
    )
}

/// `share`: see [`crate::spec::WireCheck::Share`].
pub fn share(record: &Record, c: &ShareCheck, out: &mut Vec<Check>) -> Result<(), UnknownNode> {
    let (part, whole) = counts(record, &c.from, &c.to, &c.among, c.kind)?;
    let what = c
        .kind
        .map_or("datagrams".to_string(), |k| format!("{}s", k.0));
    let failure = |f: Failure| fail(share::KIND, Some(&c.from), f);
    if whole == 0 {
        out.push(failure(Failure::new(format!(
            "{} sent no {what} to {}: no share to measure",
            c.from, c.among
        ))));
        return Ok(());
    }
    let share = part as f64 / whole as f64;
    let Some(versus) = &c.versus else {
        if share > c.at_most {
            out.push(failure(Failure {
                expected: Some(format!("at most {:.1}%", 100.0 * c.at_most)),
                actual: Some(percent(part, whole)),
                ..Failure::new(format!(
                    "of the {what} {} sent to the group {}, {} went to {}",
                    c.from,
                    c.among,
                    percent(part, whole),
                    c.to
                ))
            }));
        }
        return Ok(());
    };
    let (vpart, vwhole) = counts(record, versus, &c.to, &c.among, c.kind)?;
    if vwhole == 0 {
        out.push(failure(Failure::new(format!(
            "{versus} sent no {what} to {}: no share to compare with",
            c.among
        ))));
        return Ok(());
    }
    let yardstick = vpart as f64 / vwhole as f64;
    if share > c.at_most * yardstick {
        out.push(failure(Failure {
            expected: Some(format!(
                "at most {} × {versus}'s share = {:.1}%",
                c.at_most,
                100.0 * c.at_most * yardstick
            )),
            actual: Some(percent(part, whole)),
            ..Failure::new(format!(
                "of the {what} {} sent to the group {}, {} went to {}, against {} of {versus}'s",
                c.from,
                c.among,
                percent(part, whole),
                c.to,
                percent(vpart, vwhole)
            ))
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
