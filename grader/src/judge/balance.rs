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
use crate::run::record::Record;
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
pub fn choices(record: &Record, c: &ChoicesCheck, out: &mut Vec<Check>) {
    let Some(i) = record.node_index(&c.node) else {
        return;
    };
    let peers = record.members(&c.peers);
    let place = |line: usize| Place::Line {
        stream: c.stream,
        line: line + 1,
    };
    let failure = |f: Failure| fail(choices::KIND, Some(&c.node), f);
    let picked = match parse_choices(record, i, c, peers.len()) {
        Ok(p) => p,
        Err((line, why)) => {
            out.push(failure(Failure::new(why).at(place(line))));
            return;
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
        return;
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
) -> (usize, usize) {
    let m = Match {
        from: Some(from.to_string()),
        to: Some(among.to_string()),
        kind: kind.map(OneOrMany::One),
    };
    let all = Selector::new(record, &m);
    let target = record.node_index(to);
    let (mut part, mut whole) = (0, 0);
    for d in &record.datagrams {
        if all.take(d).is_some() {
            whole += 1;
            part += usize::from(Some(d.to) == target);
        }
    }
    (part, whole)
}

fn percent(part: usize, whole: usize) -> String {
    format!(
        "{:.1}% ({part} of {whole})",
        100.0 * part as f64 / whole as f64
    )
}

/// `share`: see [`crate::spec::WireCheck::Share`].
pub fn share(record: &Record, c: &ShareCheck, out: &mut Vec<Check>) {
    let (part, whole) = counts(record, &c.from, &c.to, &c.among, c.kind);
    let what = c
        .kind
        .map_or("datagrams".to_string(), |k| format!("{}s", k.0));
    let failure = |f: Failure| fail(share::KIND, Some(&c.from), f);
    if whole == 0 {
        out.push(failure(Failure::new(format!(
            "{} sent no {what} to {}: no share to measure",
            c.from, c.among
        ))));
        return;
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
        return;
    };
    let (vpart, vwhole) = counts(record, versus, &c.to, &c.among, c.kind);
    if vwhole == 0 {
        out.push(failure(Failure::new(format!(
            "{versus} sent no {what} to {}: no share to compare with",
            c.among
        ))));
        return;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::{Datagram, Fate, Line, NodeRecord};
    use crate::spec::Stream;
    use handout::{Message, MsgType};

    const CLIENT: usize = 0;
    const OTHER: usize = 4;

    /// Nodes: client, server0 to server2 (the group `server`), and other,
    /// a second client. `lines` are the client's stderr: (ms, text).
    fn record(lines: &[(u64, &str)], log: Vec<Datagram>) -> Record {
        let mut nodes: Vec<NodeRecord> = ["client", "server0", "server1", "server2", "other"]
            .into_iter()
            .map(NodeRecord::new)
            .collect();
        for k in 0..3 {
            nodes[1 + k].member = Some(("server".into(), k));
        }
        nodes[CLIENT].stderr = lines
            .iter()
            .map(|&(at, text)| Line {
                at: Duration::from_millis(at),
                text: text.into(),
            })
            .collect();
        Record::of(nodes, log)
    }

    /// A datagram sent at `sent` ms; delivered at `delivered` ms, or lost.
    fn dg(
        sent: u64,
        delivered: Option<u64>,
        from: usize,
        to: usize,
        kind: MsgType,
        key: &str,
    ) -> Datagram {
        let ms = Duration::from_millis;
        Datagram {
            sent: ms(sent),
            from,
            to,
            bytes: Message::new(kind, key, "VALUE").unwrap().encode(),
            fate: delivered.map_or(Fate::Dropped, |_| Fate::Delivered),
            delays: delivered.iter().map(|&t| ms(t - sent)).collect(),
            delivered: delivered.iter().map(|&t| ms(t)).collect(),
            rule: None,
        }
    }

    /// The client's request for `key` to server `peer` (0 to 2), at `at` ms.
    fn ask(at: u64, peer: usize, key: &str) -> Datagram {
        dg(at, Some(at), CLIENT, 1 + peer, MsgType::ReadReq, key)
    }

    /// Server `peer`'s reply for `key`, delivered to the client at `at` ms.
    fn reply(at: u64, peer: usize, key: &str) -> Datagram {
        dg(at, Some(at), 1 + peer, CLIENT, MsgType::ReadRep, key)
    }

    /// The line of a choice, and the client's request for it.
    fn choose(at: u64, key: &str, chosen: usize, first: usize, second: usize) -> (Line, Datagram) {
        let line = Line {
            at: Duration::from_millis(at),
            text: format!("key {key} to {chosen} of {first} and {second}"),
        };
        (line, ask(at, chosen, key))
    }

    fn check(distinct: bool, least_in_flight: bool) -> ChoicesCheck {
        ChoicesCheck {
            node: "client".into(),
            line: "key {key} to {chosen} of {first} and {second}".into(),
            stream: Stream::Stderr,
            peers: "server".into(),
            request: TypeName(MsgType::ReadReq),
            reply: TypeName(MsgType::ReadRep),
            distinct,
            least_in_flight,
            window: None,
        }
    }

    fn failures(c: &ChoicesCheck, r: &Record) -> Vec<Failure> {
        let mut out = Vec::new();
        choices(r, c, &mut out);
        out.into_iter().filter_map(|c| c.failure).collect()
    }

    /// Runs `least_in_flight` on choices, with more datagrams (replies,
    /// retransmissions) merged in by time.
    fn in_flight_failures(
        picks: &[(u64, &str, usize, usize, usize)],
        more: Vec<Datagram>,
    ) -> Vec<Failure> {
        let (lines, mut log): (Vec<Line>, Vec<Datagram>) = picks
            .iter()
            .map(|&(at, key, chosen, first, second)| choose(at, key, chosen, first, second))
            .unzip();
        log.extend(more);
        log.sort_by_key(|d| d.sent);
        let mut r = record(&[], log);
        r.nodes[CLIENT].stderr = lines;
        failures(&check(false, true), &r)
    }

    #[test]
    fn the_window_bounds_what_the_node_may_not_have_read() {
        // At most two requests in flight (W = 2). server0 never answers K1;
        // server1 answers K2 and K3. Counting requests *sent*, the fourth
        // request goes to server0 (1 sent against 2); in flight, server0
        // has 1 and server1 none, once the node has read server1's replies.
        let picks = [
            (10, "K1", 0, 0, 1),
            (20, "K2", 1, 0, 1),
            (30, "K3", 1, 0, 1),
            (40, "K4", 0, 0, 1),
        ];
        let more = || vec![reply(25, 1, "K2"), reply(35, 1, "K3")];
        // Without the window, "it had not read K3's reply" explains it.
        assert_eq!(in_flight_failures(&picks, more()), []);
        // With it: before its fourth request, the node had read the replies
        // to at least two of its three.
        let (lines, mut log): (Vec<Line>, Vec<Datagram>) = picks
            .iter()
            .map(|&(at, key, chosen, first, second)| choose(at, key, chosen, first, second))
            .unzip();
        log.extend(more());
        log.sort_by_key(|d| d.sent);
        let mut r = record(&[], log);
        r.nodes[CLIENT].stderr = lines;
        let windowed = ChoicesCheck {
            window: Some(2),
            ..check(false, true)
        };
        assert_eq!(
            summaries(&failures(&windowed, &r)),
            ["client's request for key K4 at 40 ms went to the more loaded candidate"]
        );
    }

    fn summaries(f: &[Failure]) -> Vec<&str> {
        f.iter().map(|f| f.summary.as_str()).collect()
    }

    #[test]
    fn distinct_candidates_pass_and_the_same_one_twice_fails() {
        let lines = [(1, "key K1 to 0 of 0 and 1"), (2, "key K2 to 2 of 1 and 2")];
        assert_eq!(failures(&check(true, false), &record(&lines, vec![])), []);
        let lines = [
            (1, "key K1 to 0 of 0 and 1"),
            (2, "other output"),
            (3, "key K2 to 2 of 2 and 2"),
        ];
        let f = failures(&check(true, false), &record(&lines, vec![]));
        assert_eq!(
            summaries(&f),
            ["client drew the same candidate twice for key K2: 2 and 2"]
        );
        assert_eq!(
            f[0].place,
            Some(Place::Line {
                stream: Stream::Stderr,
                line: 3
            })
        );
        assert_eq!(failures(&check(false, false), &record(&lines, vec![])), []);
    }

    #[test]
    fn no_choice_printed_fails() {
        let f = failures(&check(true, true), &record(&[(1, "hello")], vec![]));
        assert_eq!(
            summaries(&f),
            [
                "client printed no line like `key {key} to {chosen} of {first} and {second}` on stderr: its choices cannot be checked"
            ]
        );
    }

    #[test]
    fn the_least_loaded_choice_passes_and_the_more_loaded_fails() {
        let good = [
            (10, "K1", 0, 0, 1),
            (20, "K2", 1, 0, 1),
            (30, "K3", 2, 2, 0),
            (40, "K4", 2, 1, 2),
        ];
        assert_eq!(in_flight_failures(&good, vec![]), []);
        // server0 has K1 in flight, server1 nothing.
        let bad = [(10, "K1", 0, 0, 1), (20, "K2", 0, 0, 1)];
        let f = in_flight_failures(&bad, vec![]);
        assert_eq!(
            summaries(&f),
            ["client's request for key K2 at 20 ms went to the more loaded candidate"]
        );
        assert_eq!(
            f[0].expected.as_deref(),
            Some("the candidate with fewer requests in flight: 1 (server1)")
        );
        assert!(
            f[0].actual
                .as_deref()
                .unwrap()
                .starts_with("0 (server0), with 1 in flight against 0"),
            "{f:?}"
        );
        assert_eq!(
            f[0].place,
            Some(Place::Line {
                stream: Stream::Stderr,
                line: 2
            })
        );
        // A reply lost, or delivered only after the request left, ends
        // nothing the choice could know of.
        let lost = dg(15, None, 1, CLIENT, MsgType::ReadRep, "K1");
        assert_eq!(in_flight_failures(&bad, vec![lost]).len(), 1);
        assert_eq!(in_flight_failures(&bad, vec![reply(21, 0, "K1")]).len(), 1);
        // Delivered before, it ends K1.
        assert_eq!(in_flight_failures(&bad, vec![reply(15, 0, "K1")]), []);
        // A reply of another key, or from another server, ends nothing.
        assert_eq!(in_flight_failures(&bad, vec![reply(15, 0, "K9")]).len(), 1);
        assert_eq!(in_flight_failures(&bad, vec![reply(15, 1, "K1")]).len(), 1);
    }

    #[test]
    fn a_reply_the_node_may_not_have_read_yet_is_read_only_when_needed() {
        // server0 has K1 in flight and server1 K2 when server0's reply to
        // K1 is delivered at 29, a moment before the next choice.
        let before = [(10, "K1", 0, 0, 1), (20, "K2", 1, 0, 1)];
        let with = |third: (u64, &'static str, usize, usize, usize)| {
            let mut picks = before.to_vec();
            picks.push(third);
            in_flight_failures(&picks, vec![reply(29, 0, "K1")])
        };
        // Not read yet: 1 against 1, and server1 is as good as server0
        // (having read it, server1 would be the more loaded).
        assert_eq!(with((30, "K3", 1, 0, 1)), []);
        // Read: server0 has 0 in flight, as server2 (not read, 1 against 0).
        assert_eq!(with((30, "K3", 0, 0, 2)), []);
        // Had it been delivered after the choice, the node could not know.
        let picks = [
            (10, "K1", 0, 0, 1),
            (20, "K2", 1, 0, 1),
            (30, "K3", 0, 0, 2),
        ];
        let f = in_flight_failures(&picks, vec![reply(31, 0, "K1")]);
        assert_eq!(
            summaries(&f),
            ["client's request for key K3 at 30 ms went to the more loaded candidate"]
        );
    }

    #[test]
    fn what_the_node_has_read_stays_read() {
        // server1 gets K2 and K7; server0's reply to K1 at 29 must have
        // been read for K3 to go to server0. Then K4 goes to server1 with
        // 2 in flight against server0's 1: only unreading the reply would
        // explain it.
        let picks = [
            (10, "K1", 0, 0, 1),
            (20, "K2", 1, 0, 1),
            (25, "K7", 1, 1, 0),
            (30, "K3", 0, 0, 2),
            (40, "K4", 1, 1, 0),
        ];
        let f = in_flight_failures(&picks, vec![reply(29, 0, "K1")]);
        assert_eq!(
            summaries(&f),
            ["client's request for key K4 at 40 ms went to the more loaded candidate"]
        );
        assert!(
            f[0].actual
                .as_deref()
                .unwrap()
                .contains("with 2 in flight against 1"),
            "{f:?}"
        );
        // With K3 between server0 and server1, nothing forces the reply to
        // be read, and K4 finds 2 against 2.
        let mut picks = picks.to_vec();
        picks[3] = (30, "K3", 0, 0, 1);
        assert_eq!(in_flight_failures(&picks, vec![reply(29, 0, "K1")]), []);
    }

    #[test]
    fn a_retransmitted_request_counts_once() {
        // K1 is sent twice to server0 and answered twice; K2 then finds
        // server0 with nothing in flight.
        let picks = [(10, "K1", 0, 0, 1), (20, "K2", 0, 0, 1)];
        let more = vec![ask(12, 0, "K1"), reply(14, 0, "K1"), reply(15, 0, "K1")];
        assert_eq!(in_flight_failures(&picks, more), []);
        // Answered once: still nothing in flight.
        let more = vec![ask(12, 0, "K1"), reply(14, 0, "K1")];
        assert_eq!(in_flight_failures(&picks, more), []);
        // The second reply to K1 ends nothing: K2 is still in flight to
        // server0 when K3 goes there too.
        let picks = [
            (10, "K1", 0, 0, 1),
            (20, "K2", 0, 0, 1),
            (30, "K3", 0, 0, 1),
        ];
        let more = vec![ask(12, 0, "K1"), reply(14, 0, "K1"), reply(15, 0, "K1")];
        let f = in_flight_failures(&picks, more);
        assert_eq!(summaries(&f).len(), 1, "{f:?}");
        assert!(f[0].summary.contains("key K3"), "{f:?}");
    }

    #[test]
    fn a_choice_with_no_request_fails() {
        let lines = [(10, "key K1 to 1 of 0 and 1")];
        let log = vec![ask(10, 0, "K1")];
        let f = failures(&check(false, true), &record(&lines, log));
        assert_eq!(
            summaries(&f),
            [
                "client printed that it chose 1 (server1) for key K1, but sent no READ_REQ for that key there"
            ]
        );
    }

    #[test]
    fn a_chosen_peer_that_is_no_candidate_fails() {
        let lines = [(1, "key K1 to 0 of 0 and 1"), (2, "key K2 to 2 of 0 and 1")];
        let f = failures(&check(true, false), &record(&lines, vec![]));
        assert_eq!(
            summaries(&f),
            ["client printed `key K2 to 2 of 0 and 1`: it chose 2, which is neither candidate"]
        );
        assert_eq!(
            f[0].place,
            Some(Place::Line {
                stream: Stream::Stderr,
                line: 2
            })
        );
    }

    #[test]
    fn an_index_out_of_range_fails() {
        for (text, says) in [
            ("key K1 to 3 of 3 and 0", "chosen `3`"),
            ("key K1 to 0 of 0 and 7", "second `7`"),
            ("key K1 to 0 of x and 0", "first `x`"),
        ] {
            let f = failures(&check(true, true), &record(&[(1, text)], vec![]));
            assert_eq!(
                summaries(&f),
                [format!(
                    "client printed `{text}`: {says} is not a peer's number, from 0 to 2"
                )],
            );
        }
    }

    /// `n` READ_REQs from `from` to the servers, `to0` of them to server0.
    fn spread(from: usize, n: usize, to0: usize) -> Vec<Datagram> {
        (0..n)
            .map(|i| {
                let to = if i < to0 { 1 } else { 2 + i % 2 };
                dg(i as u64, Some(i as u64), from, to, MsgType::ReadReq, "K")
            })
            .collect()
    }

    fn share_failures(c: &ShareCheck, log: Vec<Datagram>) -> Vec<Failure> {
        let mut out = Vec::new();
        share(&record(&[], log), c, &mut out);
        out.into_iter().filter_map(|c| c.failure).collect()
    }

    fn share_of(at_most: f64, versus: Option<&str>) -> ShareCheck {
        ShareCheck {
            from: "client".into(),
            to: "server0".into(),
            among: "server".into(),
            kind: Some(TypeName(MsgType::ReadReq)),
            at_most,
            versus: versus.map(str::to_string),
        }
    }

    #[test]
    fn a_share_alone_is_at_most_its_bound() {
        // 2 of 10 READ_REQs to server0; a WRITE_REQ to server0 and one to a
        // node outside the group do not count.
        let mut log = spread(CLIENT, 10, 2);
        log.push(dg(20, Some(20), CLIENT, 1, MsgType::WriteReq, "K"));
        log.push(dg(21, Some(21), CLIENT, OTHER, MsgType::ReadReq, "K"));
        assert_eq!(share_failures(&share_of(0.2, None), log.clone()), []);
        let f = share_failures(&share_of(0.1, None), log);
        assert_eq!(
            summaries(&f),
            ["of the READ_REQs client sent to the group server, 20.0% (2 of 10) went to server0"]
        );
        assert_eq!(f[0].expected.as_deref(), Some("at most 10.0%"));
        assert_eq!(f[0].actual.as_deref(), Some("20.0% (2 of 10)"));
        // Lost datagrams count: they were sent.
        let mut lost = spread(CLIENT, 10, 2);
        lost.push(dg(30, None, CLIENT, 1, MsgType::ReadReq, "K"));
        assert_eq!(share_failures(&share_of(0.2, None), lost).len(), 1);
    }

    #[test]
    fn a_share_versus_another_sender_is_at_most_a_multiple_of_its_share() {
        // client: 2 of 10 to server0; other: 5 of 10.
        let mut log = spread(CLIENT, 10, 2);
        log.extend(spread(OTHER, 10, 5));
        assert_eq!(
            share_failures(&share_of(0.4, Some("other")), log.clone()),
            []
        );
        let f = share_failures(&share_of(0.3, Some("other")), log.clone());
        assert_eq!(
            summaries(&f),
            [
                "of the READ_REQs client sent to the group server, 20.0% (2 of 10) went to server0, against 50.0% (5 of 10) of other's"
            ]
        );
        assert_eq!(
            f[0].expected.as_deref(),
            Some("at most 0.3 × other's share = 15.0%")
        );
        // Alone, 20% is within 0.3.
        assert_eq!(share_failures(&share_of(0.3, None), log), []);
    }

    #[test]
    fn no_datagrams_is_no_share() {
        let f = share_failures(&share_of(1.0, None), vec![]);
        assert_eq!(
            summaries(&f),
            ["client sent no READ_REQs to server: no share to measure"]
        );
        let f = share_failures(&share_of(1.0, Some("other")), spread(CLIENT, 4, 1));
        assert_eq!(
            summaries(&f),
            ["other sent no READ_REQs to server: no share to compare with"]
        );
        let any = ShareCheck {
            kind: None,
            ..share_of(1.0, None)
        };
        let f = share_failures(&any, vec![]);
        assert_eq!(
            summaries(&f),
            ["client sent no datagrams to server: no share to measure"]
        );
    }
}
