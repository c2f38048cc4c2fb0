//! Checks of what happened before what, across nodes: `happens_before`,
//! `printed_before` and `printed_received`.
//!
//! The proxy is the one place that sees every datagram, so its clock
//! orders events of different nodes: a datagram was *sent* when the proxy
//! received it, and *delivered* when the proxy passed it on. If B's reply
//! was delivered to A before A sent its own datagram, A could have known
//! of it; if it was not, A acted without it. That is Lamport's
//! happens-before, read off one observer's timeline.
//!
//! A printed line is placed on the same clock: the grader reads each line
//! as the program prints it (programs flush every line) and stamps it.
//!
//! Both read the record once, with a map on the side: n log n.

use std::collections::BTreeMap;
use std::time::Duration;

use super::wire::printed_before::PrintedBeforeCheck;
use super::wire::printed_received::PrintedReceivedCheck;
use super::wire::{happens_before, printed_before, printed_received};
use super::{Check, Failure, Place, fail, transcript_vars};
use crate::run::record::{Record, UnknownNode};
use crate::run::select::Selector;
use crate::spec::{Match, pattern};

fn ms(t: Duration) -> String {
    format!("{} ms", t.as_millis())
}

/// `happens_before`: each effect comes after a cause from every node of
/// `causes.from` was delivered, since the request the effect answers.
pub fn happens_before(
    record: &Record,
    effect: &Match,
    causes: &Match,
    since: &Match,
    out: &mut Vec<Check>,
) -> Result<(), UnknownNode> {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let (effects, requests) = (
        Selector::new(record, effect)?,
        Selector::new(record, since)?,
    );
    let cause = Selector::new(record, causes)?;
    // What each sender owes, named without the group it is a member of.
    let without_sender = Match {
        from: None,
        ..causes.clone()
    };
    let awaited = Selector::new(record, &without_sender)?;
    let senders = causes
        .from
        .as_deref()
        .map_or_else(|| Ok(Vec::new()), |f| record.members(f))?;
    // When each sender's causes were delivered, per key.
    let mut delivered: BTreeMap<(usize, String), Vec<Duration>> = BTreeMap::new();
    for d in &record.datagrams {
        if let Some(m) = cause.take(d) {
            delivered
                .entry((d.from, m.key))
                .or_default()
                .extend(d.delivered.iter().copied());
        }
    }
    // Per (requester, key): when the request the next effect answers was
    // sent, and its value; and the value of the request last answered.
    let mut open: BTreeMap<(usize, String), (Duration, String)> = BTreeMap::new();
    let mut answered: BTreeMap<(usize, String), String> = BTreeMap::new();
    for (i, d) in record.datagrams.iter().enumerate() {
        if let Some(m) = requests.take(d) {
            let who = (d.from, m.key);
            // A copy of the request last answered is a retransmission (its
            // answer was lost, or crossed it): it asks for nothing new.
            if answered.get(&who) != Some(&m.value) {
                open.entry(who).or_insert((d.sent, m.value));
            }
        }
        let Some(m) = effects.take(d) else {
            continue;
        };
        // No request since the last effect: a repeated answer, judged then.
        let Some((start, value)) = open.remove(&(d.to, m.key.clone())) else {
            continue;
        };
        answered.insert((d.to, m.key.clone()), value);
        for &s in &senders {
            let in_window = delivered
                .get(&(s, m.key.clone()))
                .is_some_and(|ts| ts.iter().any(|&t| t >= start && t <= d.sent));
            if in_window {
                continue;
            }
            let f = Failure::new(format!(
                "{} sent a {} for key {} to {} at {}, before {} from {} had been delivered",
                names[d.from],
                m.kind,
                m.key,
                names[d.to],
                ms(d.sent),
                awaited.describe(Some(&m.key)),
                names[s],
            ))
            .note(format!(
                "the request it answers ({}) was sent at {}; what {} must wait for has to reach it after that",
                requests.describe(Some(&m.key)).trim_start_matches("a "),
                ms(start),
                names[d.from],
            ))
            .at(Place::Datagram(i));
            out.push(fail(happens_before::KIND, Some(names[d.from]), f));
        }
    }
    Ok(())
}

/// `printed_before`: the k-th matching line was printed before the k-th
/// matching datagram was delivered.
pub fn printed_before(
    record: &Record,
    c: &PrintedBeforeCheck,
    out: &mut Vec<Check>,
) -> Result<(), UnknownNode> {
    let i = record.node(&c.node)?;
    let vars = transcript_vars(record, i);
    let Ok(tokens) = pattern::parse(&c.line) else {
        return Ok(());
    };
    let lines: Vec<(usize, Duration)> = record.nodes[i]
        .lines(c.stream)
        .iter()
        .enumerate()
        .filter(|(_, l)| pattern::match_line(&tokens, &l.text, &vars, 0).is_some())
        .map(|(k, l)| (k, l.at))
        .collect();
    let select = Selector::new(record, &c.delivered)?;
    let mut deliveries: Vec<(Duration, usize)> = record
        .datagrams
        .iter()
        .enumerate()
        .filter(|(_, d)| select.take(d).is_some())
        .flat_map(|(k, d)| d.delivered.iter().map(move |&t| (t, k)))
        .collect();
    deliveries.sort_unstable();
    if lines.is_empty() {
        out.push(fail(
            printed_before::KIND,
            Some(&c.node),
            Failure::new(format!(
                "{} printed no line like `{}` on {}",
                c.node, c.line, c.stream
            ))
            .showing(i, &[c.stream]),
        ));
        return Ok(());
    }
    for (n, ((line, printed), (delivered, k))) in lines.iter().zip(&deliveries).enumerate() {
        if printed < delivered {
            continue;
        }
        let f = Failure::new(format!(
            "{} printed `{}` (line {} of its {}) at {}, after {} (number {} of them) was delivered at {}",
            c.node,
            record.nodes[i].lines(c.stream)[*line].text,
            line + 1,
            c.stream,
            ms(*printed),
            select.describe(None),
            n + 1,
            ms(*delivered),
        ))
        .note(format!(
            "it must print it before then: as soon as it knows, not after waiting for {}",
            select.describe(None)
        ))
        .note("the time is when the grader read the line from the program's stdout or stderr: flush each line as it is printed (to a pipe, C's stdio and Python's print hold output back)")
        .at(Place::Datagram(*k));
        out.push(fail(printed_before::KIND, Some(&c.node), f));
    }
    Ok(())
}

/// `printed_received`: each matching line reports a datagram delivered
/// to the node before the line was printed, with the key (and value) the
/// line shows; each delivery backs one line at most.
pub fn printed_received(
    record: &Record,
    c: &PrintedReceivedCheck,
    out: &mut Vec<Check>,
) -> Result<(), UnknownNode> {
    let i = record.node(&c.node)?;
    let vars = transcript_vars(record, i);
    let Ok(tokens) = pattern::parse(&c.line) else {
        return Ok(());
    };
    let select = Selector::new(record, &c.delivered)?;
    // Every delivery to the node, in time order: (when, key, value, datagram).
    let mut deliveries: Vec<(Duration, String, String, usize)> = record
        .datagrams
        .iter()
        .enumerate()
        .filter(|(_, d)| d.to == i)
        .filter_map(|(k, d)| select.take(d).map(|m| (k, d, m)))
        .flat_map(|(k, d, m)| {
            d.delivered
                .iter()
                .map(move |&t| (t, m.key.clone(), m.value.clone(), k))
        })
        .collect();
    deliveries.sort_unstable();
    let mut used = vec![false; deliveries.len()];
    // `{value}` matches a word; a reply with an empty value is printed
    // with nothing there, which the pattern without it matches.
    let no_value: Vec<pattern::Token> = (tokens.iter())
        .filter(|t| !matches!(t, pattern::Token::Var(n) if n == "value"))
        .cloned()
        .collect();
    let has_value = no_value.len() < tokens.len();
    let lines = record.nodes[i].lines(c.stream);
    for (n, l) in lines.iter().enumerate() {
        let got = pattern::match_line(&tokens, &l.text, &vars, 0).or_else(|| {
            let mut g = pattern::match_line(&no_value, &l.text, &vars, 0).filter(|_| has_value)?;
            g.push(("value".into(), String::new()));
            Some(g)
        });
        let Some(got) = got else {
            continue;
        };
        let get = |name: &str| got.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let key = get("key").unwrap_or_default();
        let value = get("value");
        let fits = |&(t, ref k, ref v, _): &(Duration, String, String, usize)| {
            t <= l.at && k == key && value.is_none_or(|want| v == want)
        };
        if let Some(j) = (0..deliveries.len()).find(|&j| !used[j] && fits(&deliveries[j])) {
            used[j] = true;
            continue;
        }
        let what = select.describe(Some(key));
        let mut f = Failure::new(format!(
            "{} printed `{}` (line {} of its {}) at {}, but it had not received {what}{} by then (one that no earlier line reported)",
            c.node,
            l.text,
            n + 1,
            c.stream,
            ms(l.at),
            value.map_or(String::new(), |v| format!(" with value `{v}`")),
        ))
        .note(format!(
            "print what the datagram you received holds, once for each one you accept: {} received {} such datagram(s) before then, {} of them already reported",
            c.node,
            deliveries.iter().filter(|d| d.1 == key && d.0 <= l.at).count(),
            deliveries
                .iter()
                .zip(&used)
                .filter(|(d, u)| **u && d.1 == key && d.0 <= l.at)
                .count(),
        ))
        .showing(i, &[c.stream]);
        let sent = record
            .datagrams
            .iter()
            .position(|d| d.to == i && select.take(d).is_some_and(|m| m.key == key));
        if let Some(k) = sent {
            f = f.at(Place::Datagram(k));
        }
        out.push(fail(printed_received::KIND, Some(&c.node), f));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::record::{Datagram, Fate, Line, NodeRecord};
    use crate::spec::{OneOrMany, Stream, TypeName};
    use handout::{Message, MsgType};

    const CLIENT: usize = 0;
    const PRIMARY: usize = 1;
    const BACKUP0: usize = 2;
    const BACKUP1: usize = 3;

    /// Nodes: client, primary, and backup0 and backup1 (the group `backup`).
    fn record(log: Vec<Datagram>) -> Record {
        let mut nodes: Vec<NodeRecord> = ["client", "primary", "backup0", "backup1"]
            .into_iter()
            .map(NodeRecord::new)
            .collect();
        nodes[BACKUP0].member = Some(("backup".into(), 0));
        nodes[BACKUP1].member = Some(("backup".into(), 1));
        Record::of(nodes, log)
    }

    /// A datagram the proxy received at `sent` ms, one copy delivered at
    /// each time of `delivered` (ms): none is a lost datagram.
    fn dg(
        sent: u64,
        delivered: &[u64],
        from: usize,
        to: usize,
        kind: MsgType,
        key: &str,
    ) -> Datagram {
        valued(sent, delivered, from, to, kind, key, "VALUE")
    }

    /// [`dg`] with a value of its own.
    fn valued(
        sent: u64,
        delivered: &[u64],
        from: usize,
        to: usize,
        kind: MsgType,
        key: &str,
        value: &str,
    ) -> Datagram {
        let ms = Duration::from_millis;
        Datagram {
            sent: ms(sent),
            from,
            to,
            bytes: Message::new(kind, key, value).unwrap().encode(),
            fate: match delivered.len() {
                0 => Fate::Dropped,
                1 => Fate::Delivered,
                _ => Fate::Duplicated,
            },
            delays: delivered.iter().map(|&t| ms(t - sent)).collect(),
            delivered: delivered.iter().map(|&t| ms(t)).collect(),
            rule: None,
        }
    }

    fn link(from: &str, to: &str, kind: MsgType) -> Match {
        Match {
            from: Some(from.into()),
            to: Some(to.into()),
            kind: Some(OneOrMany::One(TypeName(kind))),
        }
    }

    /// hw5's check: the primary answers a write only once both backups
    /// acknowledged it.
    fn waited(log: Vec<Datagram>) -> Vec<Failure> {
        let mut out = Vec::new();
        happens_before(
            &record(log),
            &link("primary", "client", MsgType::WriteRep),
            &link("backup", "primary", MsgType::WriteRep),
            &link("client", "primary", MsgType::WriteReq),
            &mut out,
        )
        .unwrap();
        out.into_iter().filter_map(|c| c.failure).collect()
    }

    use MsgType::{ReadRep, WriteRep, WriteReq};

    /// One write of `key` replicated in full: the request at `at`, the
    /// forwards, both acknowledgements delivered, then the answer at `at + 6`.
    fn replicated(at: u64, key: &str) -> Vec<Datagram> {
        vec![
            dg(at, &[at], CLIENT, PRIMARY, WriteReq, key),
            dg(at + 1, &[at + 1], PRIMARY, BACKUP0, WriteReq, key),
            dg(at + 1, &[at + 1], PRIMARY, BACKUP1, WriteReq, key),
            dg(at + 2, &[at + 3], BACKUP0, PRIMARY, WriteRep, key),
            dg(at + 4, &[at + 5], BACKUP1, PRIMARY, WriteRep, key),
            dg(at + 6, &[at + 6], PRIMARY, CLIENT, WriteRep, key),
        ]
    }

    #[test]
    fn an_answer_after_every_members_cause_passes() {
        assert_eq!(waited(replicated(10, "K")), []);
        // Retransmissions of the request do not move the window: an
        // acknowledgement between the first copy and the next counts.
        let mut log = replicated(10, "K");
        log.insert(4, dg(14, &[14], CLIENT, PRIMARY, WriteReq, "K"));
        assert_eq!(waited(log), []);
    }

    #[test]
    fn an_answer_before_one_members_cause_was_delivered_fails_naming_it() {
        let mut log = replicated(10, "K");
        // backup1's acknowledgement left before the answer but was
        // delivered after it; one of another key came in time.
        log[4] = dg(14, &[20], BACKUP1, PRIMARY, WriteRep, "K");
        log.insert(4, dg(12, &[13], BACKUP1, PRIMARY, WriteRep, "OTHER"));
        let f = waited(log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].summary,
            "primary sent a WRITE_REP for key K to client at 16 ms, before a WRITE_REP for key K to primary from backup1 had been delivered"
        );
        assert_eq!(
            f[0].notes,
            [
                "the request it answers (WRITE_REQ for key K from client to primary) was sent at 10 ms; what primary must wait for has to reach it after that"
            ]
        );
        assert_eq!(f[0].place, Some(Place::Datagram(6)), "the answer");
    }

    #[test]
    fn a_lost_cause_does_not_count() {
        let mut log = replicated(10, "K");
        log[3] = dg(12, &[], BACKUP0, PRIMARY, WriteRep, "K");
        let f = waited(log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary.ends_with("from backup0 had been delivered"),
            "{f:?}"
        );
    }

    #[test]
    fn a_cause_delivered_before_the_request_does_not_count() {
        // A stale acknowledgement from backup1, delivered before the client asked.
        let mut log = vec![dg(2, &[5], BACKUP1, PRIMARY, WriteRep, "K")];
        log.extend(replicated(10, "K"));
        log.remove(5);
        let f = waited(log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary.ends_with("from backup1 had been delivered"),
            "{f:?}"
        );
        // The same key written twice: the first write's acknowledgements do
        // not cover the second.
        let mut log = replicated(10, "K");
        let mut second = replicated(30, "K");
        second.remove(4);
        second[0] = valued(30, &[30], CLIENT, PRIMARY, WriteReq, "K", "SECOND");
        log.extend(second);
        let f = waited(log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary
                .starts_with("primary sent a WRITE_REP for key K to client at 36 ms"),
            "{f:?}"
        );
        assert!(
            f[0].summary.ends_with("from backup1 had been delivered"),
            "{f:?}"
        );
        assert!(f[0].notes[0].contains("was sent at 30 ms"), "{f:?}");
    }

    #[test]
    fn a_repeated_answer_with_no_new_request_is_not_judged() {
        let mut log = replicated(10, "K");
        log.push(dg(40, &[40], PRIMARY, CLIENT, WriteRep, "K"));
        assert_eq!(waited(log.clone()), []);
        // After a new request, the same answer is judged again.
        log.insert(
            6,
            valued(30, &[30], CLIENT, PRIMARY, WriteReq, "K", "SECOND"),
        );
        let f = waited(log);
        assert_eq!(f.len(), 2, "one failure per backup: {f:?}");
        assert!(f[0].summary.contains("at 40 ms"), "{f:?}");
    }

    #[test]
    fn a_copy_of_an_answered_request_asks_for_nothing_new() {
        // The answer was lost: the client sends the same write again, and
        // the primary answers again without asking its backups.
        let mut log = replicated(10, "K");
        log[5] = dg(16, &[], PRIMARY, CLIENT, WriteRep, "K");
        log.push(dg(30, &[30], CLIENT, PRIMARY, WriteReq, "K"));
        log.push(dg(31, &[31], PRIMARY, CLIENT, WriteRep, "K"));
        assert_eq!(waited(log), []);
    }

    fn printed(lines: &[(u64, &str)], log: Vec<Datagram>) -> Vec<Failure> {
        let mut r = record(log);
        r.nodes[CLIENT].stdout = lines
            .iter()
            .map(|&(at, text)| Line {
                at: Duration::from_millis(at),
                text: text.into(),
            })
            .collect();
        let c = PrintedBeforeCheck {
            node: "client".into(),
            line: "decided *".into(),
            stream: Stream::Stdout,
            delivered: link("backup1", "client", ReadRep),
        };
        let mut out = Vec::new();
        printed_before(&r, &c, &mut out).unwrap();
        out.into_iter().filter_map(|c| c.failure).collect()
    }

    #[test]
    fn a_line_printed_before_the_delivery_passes() {
        let log = vec![dg(5, &[20], BACKUP1, CLIENT, ReadRep, "K")];
        assert_eq!(printed(&[(1, "started"), (10, "decided yes")], log), []);
    }

    #[test]
    fn a_line_printed_after_the_kth_delivery_fails() {
        let log = vec![dg(5, &[20], BACKUP1, CLIENT, ReadRep, "K")];
        let f = printed(&[(1, "started"), (25, "decided yes")], log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].summary,
            "client printed `decided yes` (line 2 of its stdout) at 25 ms, after a READ_REP from backup1 to client (number 1 of them) was delivered at 20 ms"
        );
        assert_eq!(f[0].place, Some(Place::Datagram(0)));
        // The k-th line goes with the k-th delivery, in the order of
        // delivery, not of sending; a lost datagram is no delivery.
        let log = vec![
            dg(5, &[50], BACKUP1, CLIENT, ReadRep, "K1"),
            dg(6, &[], BACKUP1, CLIENT, ReadRep, "K2"),
            dg(15, &[20], BACKUP1, CLIENT, ReadRep, "K3"),
        ];
        assert_eq!(
            printed(&[(10, "decided a"), (45, "decided b")], log.clone()),
            []
        );
        let f = printed(&[(10, "decided a"), (55, "decided b")], log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary
                .contains("(number 2 of them) was delivered at 50 ms"),
            "{f:?}"
        );
        assert_eq!(f[0].place, Some(Place::Datagram(0)));
    }

    #[test]
    fn no_matching_line_fails() {
        let log = vec![dg(5, &[20], BACKUP1, CLIENT, ReadRep, "K")];
        let f = printed(&[(1, "started")], log);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].summary,
            "client printed no line like `decided *` on stdout"
        );
        assert_eq!(f[0].show, [(CLIENT, Stream::Stdout)]);
    }

    fn received(lines: &[(u64, &str)], log: Vec<Datagram>) -> Vec<Failure> {
        let mut r = record(log);
        r.nodes[CLIENT].stdout = lines
            .iter()
            .map(|&(at, text)| Line {
                at: Duration::from_millis(at),
                text: text.into(),
            })
            .collect();
        let c = PrintedReceivedCheck {
            node: "client".into(),
            line: "Type: READ_REP Key: {key} Value: {value}".into(),
            stream: Stream::Stdout,
            delivered: Match {
                from: None,
                to: Some("client".into()),
                kind: Some(OneOrMany::One(TypeName(ReadRep))),
            },
        };
        let mut out = Vec::new();
        printed_received(&r, &c, &mut out).unwrap();
        out.into_iter().filter_map(|c| c.failure).collect()
    }

    /// A line for each reply received, after it arrived, with what it held.
    #[test]
    fn lines_that_report_deliveries_pass() {
        let log = vec![
            valued(5, &[20], PRIMARY, CLIENT, ReadRep, "K1", "V1"),
            valued(6, &[21, 30], PRIMARY, CLIENT, ReadRep, "K2", "V2"),
        ];
        let lines = [
            (1, "Request ID: 0"),
            (22, "Type: READ_REP Key: K1 Value: V1"),
            (31, "Type: READ_REP Key: K2 Value: V2"),
        ];
        assert_eq!(received(&lines, log), []);
    }

    /// A reply printed that never arrived, printed before it arrived, with
    /// a value it did not hold, or printed twice for one delivery: each is
    /// named.
    #[test]
    fn a_line_with_no_delivery_behind_it_fails() {
        let log = vec![
            valued(5, &[20], PRIMARY, CLIENT, ReadRep, "K1", "V1"),
            valued(6, &[], PRIMARY, CLIENT, ReadRep, "K2", "V2"),
        ];
        let f = received(&[(22, "Type: READ_REP Key: K2 Value: V2")], log.clone());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].summary,
            "client printed `Type: READ_REP Key: K2 Value: V2` (line 1 of its stdout) at 22 ms, but it had not received a READ_REP for key K2 to client with value `V2` by then (one that no earlier line reported)"
        );
        assert_eq!(f[0].place, Some(Place::Datagram(1)));
        let early = received(&[(10, "Type: READ_REP Key: K1 Value: V1")], log.clone());
        assert_eq!(early.len(), 1, "{early:?}");
        let wrong = received(&[(30, "Type: READ_REP Key: K1 Value: V9")], log.clone());
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        let twice = received(
            &[
                (30, "Type: READ_REP Key: K1 Value: V1"),
                (31, "Type: READ_REP Key: K1 Value: V1"),
            ],
            log,
        );
        assert_eq!(twice.len(), 1, "{twice:?}");
        // An empty value is printed as nothing after `Value: `.
        let log = vec![valued(5, &[20], PRIMARY, CLIENT, ReadRep, "K1", "")];
        assert_eq!(
            received(&[(30, "Type: READ_REP Key: K1 Value: ")], log.clone()),
            []
        );
        let f = received(
            &[(30, "Type: READ_REP Key: K1 Value: ")],
            vec![valued(5, &[20], PRIMARY, CLIENT, ReadRep, "K1", "V1")],
        );
        assert_eq!(f.len(), 1, "a reply printed empty that held a value: {f:?}");
        assert!(
            twice[0].summary.contains("(line 2 of its stdout)"),
            "{twice:?}"
        );
    }
}
