//! Checks of replicated state: `linearizable` and `replicas`.
//!
//! # The clients' history
//!
//! A client's operation is a read or a write of one key, seen from
//! outside: it begins when the proxy receives its first request datagram
//! (retransmissions are the same operation) and ends when the first reply
//! with its key and the matching type is delivered to the client. Each
//! client has at most one operation in flight: a request for another key
//! or of another type means the client gave up on the previous one, which
//! then never ends (a write that may or may not have taken effect; a read
//! that constrains nothing). Those intervals are narrower than the ones
//! the client itself saw, and the server's real moment of effect lies
//! inside them, so a correct system always passes.
//!
//! The end-state `query` adds one read per (node, key) after everything
//! else. [`linear`] decides whether some order of the operations, each
//! taking effect between its beginning and its end, explains every value
//! read, and if not, finds a smallest set of operations that already
//! cannot be explained.

use std::collections::BTreeMap;

use handout::MsgType;

use super::linear::{self, Op, OpKind};
use super::wire::linearizable::LinearCheck;
use super::wire::{linearizable, replicas};
use super::{Check, Failure, fail};
use crate::run::record::{Record, UnknownNode};
use crate::spec::OneOrMany;

/// The history of `clients` with `server`, per the module docs.
pub fn history(record: &Record, clients: &[usize], server: usize) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::new();
    // Per client: the index in `ops` of its operation in flight.
    let mut open: BTreeMap<usize, usize> = BTreeMap::new();
    for d in &record.datagrams {
        let Ok(m) = d.message() else { continue };
        if clients.contains(&d.from) && d.to == server {
            let kind = match m.kind {
                MsgType::WriteReq => OpKind::Write { value: m.value },
                MsgType::ReadReq => OpKind::Read {
                    value: String::new(),
                },
                _ => continue,
            };
            if let Some(&k) = open.get(&d.from) {
                let same = ops[k].key == m.key
                    && match (&ops[k].kind, &kind) {
                        (OpKind::Write { value: a }, OpKind::Write { value: b }) => a == b,
                        (OpKind::Read { .. }, OpKind::Read { .. }) => true,
                        _ => false,
                    };
                if same {
                    continue;
                }
            }
            open.insert(d.from, ops.len());
            ops.push(Op {
                client: record.nodes[d.from].name.clone(),
                key: m.key,
                kind,
                call: d.sent,
                ret: None,
            });
        } else if d.from == server
            && clients.contains(&d.to)
            && let Some(&k) = open.get(&d.to)
            && let Some(&at) = d.delivered.first()
            && ops[k].key == m.key
        {
            let answers = match (&mut ops[k].kind, m.kind) {
                (OpKind::Write { .. }, MsgType::WriteRep) => true,
                (OpKind::Read { value }, MsgType::ReadRep) => {
                    *value = m.value;
                    true
                }
                _ => false,
            };
            if answers {
                ops[k].ret = Some(at);
                open.remove(&d.to);
            }
        }
    }
    // A read that never ended says nothing.
    ops.retain(|o| o.ret.is_some() || matches!(o.kind, OpKind::Write { .. }));
    ops
}

/// The end-state query's answers as reads after everything else.
fn queried(record: &Record) -> Vec<Op> {
    record
        .queries
        .iter()
        .map(|a| Op {
            client: format!("query of {}", record.nodes[a.node].name),
            key: a.key.clone(),
            kind: OpKind::Read {
                value: a.value.clone(),
            },
            call: a.at,
            ret: Some(a.at),
        })
        .collect()
}

/// `linearizable`: see [`crate::spec::WireCheck::Linearizable`].
pub fn linearizable(
    record: &Record,
    c: &LinearCheck,
    out: &mut Vec<Check>,
) -> Result<(), UnknownNode> {
    let server = record.node(&c.server)?;
    let clients = record.members(&c.clients)?;
    let mut ops = history(record, &clients, server);
    if c.query {
        ops.extend(queried(record));
    }
    let reads = ops
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Read { .. }))
        .count();
    if reads == 0 {
        out.push(fail(
            linearizable::KIND,
            Some(&c.server),
            Failure::new(format!(
                "no read of {} was answered: the history has nothing to check",
                c.server
            )),
        ));
        return Ok(());
    }
    if let Err(v) = linear::check_register(&ops, &c.initial) {
        let mut f = Failure::new(format!(
            "the history of key {} is not linearizable: no order of these {} operation(s), each taking effect between its call and its return, gives what the reads returned",
            v.key,
            v.ops.len()
        ));
        for line in linear::describe(&v) {
            f = f.note(line);
        }
        f = f.note(format!(
            "times are the proxy's: a call when the first request reached it, a return when the reply was delivered; a key never written reads as `{}`",
            c.initial
        ));
        out.push(fail(linearizable::KIND, Some(&c.server), f));
    }
    Ok(())
}

/// `replicas`: every queried key has one value on every node named.
pub fn replicas(
    record: &Record,
    nodes: &OneOrMany<String>,
    out: &mut Vec<Check>,
) -> Result<(), UnknownNode> {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let members: Vec<usize> = (nodes.all().iter())
        .map(|n| record.members(n))
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    let mut by_key: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
    for a in &record.queries {
        by_key.entry(&a.key).or_default().push((a.node, &a.value));
    }
    let failure = |f: Failure| fail(replicas::KIND, None, f);
    if by_key.is_empty() {
        out.push(failure(Failure::new(
            "the query read nothing: there is no end state to compare",
        )));
        return Ok(());
    }
    for (key, answers) in by_key {
        let mut held: Vec<String> = Vec::new();
        for &m in &members {
            match answers.iter().rev().find(|(n, _)| *n == m) {
                Some((_, v)) => held.push(format!("{} holds {v}", names[m])),
                None => held.push(format!("{} was not asked", names[m])),
            }
        }
        let values: Vec<&str> = members
            .iter()
            .filter_map(|m| answers.iter().rev().find(|(n, _)| n == m).map(|(_, v)| *v))
            .collect();
        if values.len() < members.len() || values.iter().any(|v| *v != values[0]) {
            out.push(failure(
                Failure::new(format!(
                    "the replicas disagree on key {key}: {}",
                    held.join(", ")
                ))
                .note("every replica must apply the same writes, in the same order"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::run::record::{Datagram, Fate, NodeRecord, QueryAnswer};
    use handout::Message;

    const CLIENT0: usize = 0;
    const CLIENT1: usize = 1;
    const PRIMARY: usize = 2;
    const BACKUP0: usize = 3;
    const BACKUP1: usize = 4;

    /// Nodes: client0 and client1 (the group `client`), primary, and
    /// backup0 and backup1 (the group `backup`).
    fn record(log: Vec<Datagram>, queries: Vec<QueryAnswer>) -> Record {
        let mut nodes: Vec<NodeRecord> = ["client0", "client1", "primary", "backup0", "backup1"]
            .into_iter()
            .map(NodeRecord::new)
            .collect();
        nodes[CLIENT0].member = Some(("client".into(), 0));
        nodes[CLIENT1].member = Some(("client".into(), 1));
        nodes[BACKUP0].member = Some(("backup".into(), 0));
        nodes[BACKUP1].member = Some(("backup".into(), 1));
        Record {
            queries,
            ..Record::of(nodes, log)
        }
    }

    fn ms(t: u64) -> Duration {
        Duration::from_millis(t)
    }

    /// A datagram sent at `sent` ms; delivered at `delivered` ms, or lost.
    fn dg(
        sent: u64,
        delivered: Option<u64>,
        from: usize,
        to: usize,
        kind: MsgType,
        key: &str,
        value: &str,
    ) -> Datagram {
        Datagram {
            sent: ms(sent),
            from,
            to,
            bytes: Message::new(kind, key, value).unwrap().encode(),
            fate: delivered.map_or(Fate::Dropped, |_| Fate::Delivered),
            delays: delivered.iter().map(|&t| ms(t - sent)).collect(),
            delivered: delivered.iter().map(|&t| ms(t)).collect(),
            rule: None,
        }
    }

    /// `client` writes `key := value` at `at` ms.
    fn write(at: u64, client: usize, key: &str, value: &str) -> Datagram {
        dg(at, Some(at), client, PRIMARY, MsgType::WriteReq, key, value)
    }

    /// `client` reads `key` at `at` ms.
    fn read(at: u64, client: usize, key: &str) -> Datagram {
        dg(at, Some(at), client, PRIMARY, MsgType::ReadReq, key, "")
    }

    /// The primary's WRITE_REP for `key`, delivered to `client` at `at` ms.
    fn written(at: u64, client: usize, key: &str) -> Datagram {
        dg(at, Some(at), PRIMARY, client, MsgType::WriteRep, key, "")
    }

    /// The primary's READ_REP `key -> value`, delivered to `client` at `at` ms.
    fn answer(at: u64, client: usize, key: &str, value: &str) -> Datagram {
        dg(at, Some(at), PRIMARY, client, MsgType::ReadRep, key, value)
    }

    fn op(client: &str, key: &str, kind: OpKind, call: u64, ret: Option<u64>) -> Op {
        Op {
            client: client.into(),
            key: key.into(),
            kind,
            call: ms(call),
            ret: ret.map(ms),
        }
    }

    fn w(value: &str) -> OpKind {
        OpKind::Write {
            value: value.into(),
        }
    }

    fn r(value: &str) -> OpKind {
        OpKind::Read {
            value: value.into(),
        }
    }

    fn history_of(log: Vec<Datagram>) -> Vec<Op> {
        history(&record(log, vec![]), &[CLIENT0, CLIENT1], PRIMARY)
    }

    #[test]
    fn retransmissions_are_one_operation() {
        let log = vec![
            write(10, CLIENT0, "K", "A"),
            write(20, CLIENT0, "K", "A"),
            written(25, CLIENT0, "K"),
            read(30, CLIENT0, "K"),
            read(40, CLIENT0, "K"),
            answer(45, CLIENT0, "K", "A"),
            // A second reply to the answered read ends nothing.
            answer(46, CLIENT0, "K", "A"),
        ];
        assert_eq!(
            history_of(log),
            [
                op("client0", "K", w("A"), 10, Some(25)),
                op("client0", "K", r("A"), 30, Some(45)),
            ]
        );
    }

    #[test]
    fn a_client_that_gives_up_leaves_a_pending_write_and_drops_its_read() {
        let log = vec![
            write(10, CLIENT0, "K", "A"),
            // Another value of the same key is another write.
            write(20, CLIENT0, "K", "B"),
            written(25, CLIENT0, "K"),
            read(30, CLIENT0, "K3"),
            read(40, CLIENT0, "K4"),
            // A late reply to the read given up on ends nothing.
            answer(42, CLIENT0, "K3", "X"),
            answer(45, CLIENT0, "K4", "Y"),
            write(50, CLIENT0, "K5", "C"),
            read(60, CLIENT0, "K5"),
        ];
        assert_eq!(
            history_of(log),
            [
                op("client0", "K", w("A"), 10, None),
                op("client0", "K", w("B"), 20, Some(25)),
                op("client0", "K4", r("Y"), 40, Some(45)),
                op("client0", "K5", w("C"), 50, None),
            ]
        );
    }

    #[test]
    fn a_reply_not_delivered_does_not_end_an_operation() {
        let log = vec![
            write(10, CLIENT0, "K", "A"),
            read(11, CLIENT1, "K"),
            // Lost; to the other client; of the other type: none ends the write.
            dg(12, None, PRIMARY, CLIENT0, MsgType::WriteRep, "K", ""),
            written(13, CLIENT1, "K"),
            answer(14, CLIENT0, "K", "A"),
            write(20, CLIENT0, "K", "A"),
            written(23, CLIENT0, "K"),
            answer(24, CLIENT1, "K", "A"),
        ];
        assert_eq!(
            history_of(log),
            [
                op("client0", "K", w("A"), 10, Some(23)),
                op("client1", "K", r("A"), 11, Some(24)),
            ]
        );
    }

    fn linear_failures(log: Vec<Datagram>, queries: Vec<QueryAnswer>, query: bool) -> Vec<Failure> {
        let c = LinearCheck {
            clients: "client".into(),
            server: "primary".into(),
            initial: "INIT".into(),
            query,
        };
        let mut out = Vec::new();
        linearizable(&record(log, queries), &c, &mut out).unwrap();
        out.into_iter().filter_map(|c| c.failure).collect()
    }

    /// Two clients, one after the other, on keys K and K2.
    fn sequential() -> Vec<Datagram> {
        vec![
            read(1, CLIENT1, "K"),
            answer(2, CLIENT1, "K", "INIT"),
            write(10, CLIENT0, "K", "A"),
            written(12, CLIENT0, "K"),
            read(15, CLIENT1, "K"),
            answer(17, CLIENT1, "K", "A"),
            write(20, CLIENT0, "K2", "B"),
            written(22, CLIENT0, "K2"),
            read(25, CLIENT1, "K2"),
            answer(27, CLIENT1, "K2", "B"),
        ]
    }

    #[test]
    fn a_sequential_history_is_linearizable() {
        assert_eq!(linear_failures(sequential(), vec![], false), []);
    }

    #[test]
    fn a_stale_read_is_not_and_the_failure_lists_the_fewest_operations() {
        let mut log = sequential();
        log[5] = answer(17, CLIENT1, "K", "INIT");
        let f = linear_failures(log, vec![], false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary.starts_with(
                "the history of key K is not linearizable: no order of these 2 operation"
            ),
            "{f:?}"
        );
        assert_eq!(
            f[0].notes[..2],
            [
                "  client0  write K := A   [10.0 ms, 12.0 ms]",
                "  client1  read  K -> INIT   [15.0 ms, 17.0 ms]",
            ]
        );
        assert_eq!(f[0].notes.len(), 3, "{f:?}");
        assert!(f[0].notes[2].contains("a key never written reads as `INIT`"));
    }

    #[test]
    fn a_history_without_an_answered_read_fails() {
        let log = vec![
            write(10, CLIENT0, "K", "A"),
            written(12, CLIENT0, "K"),
            read(15, CLIENT1, "K"),
        ];
        let f = linear_failures(log, vec![], false);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].summary,
            "no read of primary was answered: the history has nothing to check"
        );
    }

    fn asked(node: usize, key: &str, value: &str) -> QueryAnswer {
        QueryAnswer {
            node,
            key: key.into(),
            value: value.into(),
            at: ms(100),
        }
    }

    #[test]
    fn the_query_joins_the_history_after_everything_else() {
        let log = vec![write(10, CLIENT0, "K", "A"), written(12, CLIENT0, "K")];
        let lost = vec![asked(BACKUP0, "K", "A"), asked(BACKUP1, "K", "INIT")];
        assert_eq!(
            linear_failures(log.clone(), lost.clone(), false).len(),
            1,
            "no read without the query"
        );
        let f = linear_failures(log.clone(), lost, true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].notes[1].contains("query of backup1  read  K -> INIT"),
            "{f:?}"
        );
        let kept = vec![asked(BACKUP0, "K", "A"), asked(BACKUP1, "K", "A")];
        assert_eq!(linear_failures(log, kept, true), []);
    }

    fn replica_failures(nodes: OneOrMany<String>, queries: Vec<QueryAnswer>) -> Vec<String> {
        let mut out = Vec::new();
        replicas(&record(vec![], queries), &nodes, &mut out).unwrap();
        out.into_iter()
            .filter_map(|c| c.failure.map(|f| f.summary))
            .collect()
    }

    fn backups() -> OneOrMany<String> {
        OneOrMany::One("backup".into())
    }

    #[test]
    fn replicas_that_agree_pass() {
        let q = vec![
            asked(BACKUP0, "K", "A"),
            asked(BACKUP1, "K", "A"),
            asked(BACKUP0, "K2", "B"),
            asked(BACKUP1, "K2", "B"),
            // Not one of the nodes compared.
            asked(PRIMARY, "K", "Z"),
        ];
        assert_eq!(replica_failures(backups(), q), Vec::<String>::new());
    }

    #[test]
    fn replicas_that_disagree_fail_naming_the_values() {
        let q = vec![
            asked(PRIMARY, "K", "A"),
            asked(BACKUP0, "K", "A"),
            asked(BACKUP1, "K", "B"),
            asked(PRIMARY, "K2", "C"),
            asked(BACKUP0, "K2", "C"),
            asked(BACKUP1, "K2", "C"),
        ];
        let nodes = OneOrMany::Many(vec!["primary".to_string(), "backup".to_string()]);
        assert_eq!(
            replica_failures(nodes, q),
            ["the replicas disagree on key K: primary holds A, backup0 holds A, backup1 holds B"]
        );
    }

    #[test]
    fn a_replica_never_asked_fails() {
        let q = vec![asked(BACKUP0, "K", "A")];
        assert_eq!(
            replica_failures(backups(), q),
            ["the replicas disagree on key K: backup0 holds A, backup1 was not asked"]
        );
        assert_eq!(
            replica_failures(backups(), vec![]),
            ["the query read nothing: there is no end state to compare"]
        );
    }
}
