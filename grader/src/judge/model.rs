//! Wire checks against a model: the record replayed through a reference
//! behaviour, and each answer compared with the model's.
//!
//! - [`store()`]: a store of registers, one per key. A read returns the last
//!   value written; a read that overlaps writes may return any of them, as
//!   linearizability allows for a single read.
//! - [`lru`]: a least-recently-used cache of a given capacity.
//!
//! Both read the record once to index it, then once to judge: n log n.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use handout::MsgType;

use super::wire::{lru_cache, store};
use super::{Check, Failure, Place, fail};
use crate::run::record::Record;
use crate::run::select::Selector;

fn ms(t: Duration) -> String {
    format!("{} ms", t.as_millis())
}

/// `store`: the value of each reply is one the key could hold during its read.
pub fn store(
    record: &Record,
    writes: &Selector,
    reads: &Selector,
    replies: &Selector,
    initial: &str,
    out: &mut Vec<Check>,
) {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    // Each key's writes, as (time delivered, value, datagram), in time order.
    let mut written: BTreeMap<String, Vec<(Duration, String, usize)>> = BTreeMap::new();
    for (i, d) in record.datagrams.iter().enumerate() {
        if let Some(m) = writes.take(d) {
            for &t in &d.delivered {
                written
                    .entry(m.key.clone())
                    .or_default()
                    .push((t, m.value.clone(), i));
            }
        }
    }
    for w in written.values_mut() {
        w.sort_by_key(|(t, _, i)| (*t, *i));
    }
    // The last read sent by each (node, key) so far.
    let mut open: BTreeMap<(usize, String), usize> = BTreeMap::new();
    // Replies to a read of a key written before it: what proves a store.
    let mut proving = 0;
    let mut replies_seen = 0;
    for (i, d) in record.datagrams.iter().enumerate() {
        if let Some(m) = reads.take(d) {
            open.insert((d.from, m.key), i);
            continue;
        }
        let Some(reply) = replies.take(d) else {
            continue;
        };
        let Some(&r) = open.get(&(d.to, reply.key.clone())) else {
            continue;
        };
        let read = &record.datagrams[r];
        let w = written.get(&reply.key).map_or(&[][..], Vec::as_slice);
        // The value when the read was sent, then those written while it was
        // in flight.
        let at_start = w.partition_point(|(t, _, _)| *t <= read.sent);
        let in_flight = w[at_start..].partition_point(|(t, _, _)| *t <= d.sent);
        let held = at_start.checked_sub(1).map(|k| &w[k]);
        replies_seen += 1;
        if held.is_some() {
            proving += 1;
        }
        let mut allowed: Vec<&str> = vec![held.map_or(initial, |(_, v, _)| v.as_str())];
        allowed.extend(
            w[at_start..at_start + in_flight]
                .iter()
                .map(|(_, v, _)| v.as_str()),
        );
        if allowed.contains(&reply.value.as_str()) {
            continue;
        }
        let was = match held {
            Some((t, v, j)) => format!(
                "{v}, written by the {} from {} delivered at {}",
                MsgType::WriteReq,
                names[record.datagrams[*j].from],
                ms(*t)
            ),
            None => format!("{initial}, the value of a key never written"),
        };
        let mut f = Failure {
            expected: Some(format!("value {}", allowed.join(" or "))),
            actual: Some(format!("value {}", reply.value)),
            ..Failure::new(format!(
                "{} read key {} at {} and got {} (a {} from {} at {}), but the key held {was}",
                names[d.to],
                reply.key,
                ms(read.sent),
                reply.value,
                reply.kind,
                names[d.from],
                ms(d.sent),
            ))
        }
        .at(Place::Datagram(i));
        if allowed.len() > 1 {
            f = f.note(format!(
                "writes in flight during the read allow {} too",
                allowed[1..].join(", ")
            ));
        }
        if let Some((_, v, _)) = w.iter().rev().find(|(_, v, _)| *v == reply.value) {
            f = f.note(format!("{v} is an older value of the key: a stale read"));
        }
        out.push(fail(store::KIND, Some(names[d.to]), f));
    }
    if proving == 0 && out.is_empty() {
        let client = reads.spec_from().unwrap_or("the reader");
        out.push(fail(
            store::KIND,
            Some(client),
            Failure::new(format!(
                "no read met an earlier write of its key ({replies_seen} answered reads): the run proves nothing about the store"
            ))
            .note("keys must repeat for reads to meet writes: draw them from the small key space the test asks for (--keys K)"),
        ));
    }
}

/// An LRU cache's contents, most recently used last.
struct Lru {
    capacity: usize,
    /// (key, value, use stamp)
    entries: BTreeMap<String, (String, u64)>,
    by_use: BTreeMap<u64, String>,
    clock: u64,
    /// Why each key left: (time, the key whose write evicted it).
    evicted: BTreeMap<String, (Duration, String)>,
}

impl Lru {
    fn touch(&mut self, key: &str) {
        if let Some((_, stamp)) = self.entries.get_mut(key) {
            self.by_use.remove(stamp);
            self.clock += 1;
            *stamp = self.clock;
            self.by_use.insert(self.clock, key.to_string());
        }
    }

    fn put(&mut self, key: &str, value: &str, at: Duration) {
        if let Some((v, _)) = self.entries.get_mut(key) {
            *v = value.to_string();
            self.touch(key);
            return;
        }
        self.clock += 1;
        self.entries
            .insert(key.to_string(), (value.to_string(), self.clock));
        self.by_use.insert(self.clock, key.to_string());
        self.evicted.remove(key);
        while self.entries.len() > self.capacity {
            let Some((_, old)) = self.by_use.pop_first() else {
                break;
            };
            self.entries.remove(&old);
            self.evicted.insert(old, (at, key.to_string()));
        }
    }

    fn least_recent(&self) -> Vec<&str> {
        self.by_use.values().map(String::as_str).collect()
    }
}

/// `lru_cache`: the node's hits and misses are those of an LRU cache.
pub fn lru(record: &Record, node: usize, capacity: usize, out: &mut Vec<Check>) {
    let names: Vec<&str> = record.nodes.iter().map(|x| x.name.as_str()).collect();
    let me = names[node];
    // Events in time order: a copy delivered to the cache, or an answer it sent.
    let mut events: Vec<(Duration, usize, bool)> = Vec::new();
    for (i, d) in record.datagrams.iter().enumerate() {
        if d.to == node {
            events.extend(d.delivered.iter().map(|&t| (t, i, true)));
        } else if d.from == node {
            events.push((d.sent, i, false));
        }
    }
    events.sort();
    let mut cache = Lru {
        capacity,
        entries: BTreeMap::new(),
        by_use: BTreeMap::new(),
        clock: 0,
        evicted: BTreeMap::new(),
    };
    // What the model answers, per (asker, key), in the order asked:
    // Some(value) for a hit.
    let mut expected: BTreeMap<(usize, String), VecDeque<Option<String>>> = BTreeMap::new();
    for (t, i, arrives) in events {
        let d = &record.datagrams[i];
        let Ok(m) = d.message() else { continue };
        if arrives {
            match m.kind {
                MsgType::ReadReq => {
                    let hit = cache.entries.get(&m.key).map(|(v, _)| v.clone());
                    cache.touch(&m.key);
                    expected.entry((d.from, m.key)).or_default().push_back(hit);
                }
                MsgType::WriteReq => cache.put(&m.key, &m.value, t),
                _ => {}
            }
            continue;
        }
        if !matches!(m.kind, MsgType::CacheHit | MsgType::CacheMiss) {
            continue;
        }
        let Some(want) = expected
            .get_mut(&(d.to, m.key.clone()))
            .and_then(VecDeque::pop_front)
        else {
            continue;
        };
        let summary = match (&want, m.kind) {
            (Some(v), MsgType::CacheHit) if *v == m.value => continue,
            (None, MsgType::CacheMiss) => continue,
            (Some(v), MsgType::CacheHit) => format!(
                "{me} answered a CACHE_HIT for key {} with value {}, but the value last stored was {v}",
                m.key, m.value
            ),
            (Some(_), _) => format!(
                "{me} answered a CACHE_MISS for key {} at {}, but an LRU cache of capacity {capacity} still holds it (least recently used first: {})",
                m.key,
                ms(d.sent),
                cache.least_recent().join(", ")
            ),
            (None, _) => {
                let why = match cache.evicted.get(&m.key) {
                    Some((at, by)) => format!(
                        "it was evicted at {} when key {by} was stored, as the least recently used of {capacity} entries",
                        ms(*at)
                    ),
                    None => "nothing stored it".to_string(),
                };
                format!(
                    "{me} answered a CACHE_HIT for key {} at {}, but an LRU cache of capacity {capacity} does not hold it: {why}",
                    m.key,
                    ms(d.sent)
                )
            }
        };
        out.push(fail(
            lru_cache::KIND,
            Some(me),
            Failure {
                expected: Some(match &want {
                    Some(v) => format!("CACHE_HIT with value {v}"),
                    None => "CACHE_MISS".into(),
                }),
                actual: Some(format!("{} with value {}", m.kind, m.value)),
                ..Failure::new(summary)
            }
            .at(Place::Datagram(i)),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::check;
    use crate::run::record::{Datagram, Fate, NodeRecord, Record};
    use crate::spec::WireCheck;
    use handout::{Message, MsgType};
    use std::time::Duration;

    /// Nodes: 0 client, 1 server0, 2 server1, 3 cache.
    fn record(log: Vec<Datagram>, capacity: &str) -> Record {
        let mut nodes: Vec<NodeRecord> = ["client", "server0", "server1", "cache"]
            .into_iter()
            .map(NodeRecord::new)
            .collect();
        nodes[1].member = Some(("server".into(), 0));
        nodes[2].member = Some(("server".into(), 1));
        Record {
            vars: [("capacity".to_string(), capacity.to_string())].into(),
            ..Record::of(nodes, log)
        }
    }

    /// A datagram sent at `at` ms and delivered at once.
    fn dg(at: u64, from: usize, to: usize, kind: MsgType, key: &str, value: &str) -> Datagram {
        let m = Message::new(kind, key, value).unwrap();
        Datagram {
            sent: Duration::from_millis(at),
            from,
            to,
            bytes: m.encode(),
            fate: Fate::Delivered,
            delays: vec![Duration::ZERO],
            delivered: vec![Duration::from_millis(at)],
            rule: None,
        }
    }

    fn failures(yaml: &str, log: Vec<Datagram>) -> Vec<String> {
        let c: WireCheck = serde_yaml::with::singleton_map_recursive::deserialize(
            serde_yaml::Deserializer::from_str(yaml),
        )
        .unwrap();
        check(&c, &record(log, "2"))
            .into_iter()
            .filter_map(|c| c.failure.map(|f| f.summary))
            .collect()
    }

    use MsgType::{CacheHit, CacheMiss, ReadRep, ReadReq, WriteRep, WriteReq};

    const STORE: &str = "store:\n  writes: { from: client, type: WRITE_REQ }\n  reads: { from: client, type: READ_REQ }\n  replies: { to: client, type: [READ_REP, CACHE_HIT] }\n  initial: INIT\n";

    #[test]
    fn a_read_sees_the_last_write_or_one_in_flight() {
        let good = vec![
            dg(0, 0, 1, WriteReq, "k", "v1"),
            dg(1, 1, 0, WriteRep, "k", ""),
            dg(2, 0, 1, ReadReq, "k", ""),
            dg(3, 1, 0, ReadRep, "k", "v1"),
            dg(4, 0, 1, ReadReq, "other", ""),
            dg(5, 1, 0, ReadRep, "other", "INIT"),
        ];
        assert_eq!(failures(STORE, good.clone()), Vec::<String>::new());
        // A write delivered while the read is in flight: either value will do.
        let mut overlap = good.clone();
        overlap.insert(3, dg(3, 0, 1, WriteReq, "k", "v2"));
        assert_eq!(failures(STORE, overlap), Vec::<String>::new());
        let mut stale = good;
        stale.insert(2, dg(1, 0, 1, WriteReq, "k", "v2"));
        let f = failures(STORE, stale);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].contains("client read key k at 2 ms and got v1") && f[0].contains("held v2"),
            "{f:?}"
        );
    }

    #[test]
    fn a_store_that_no_read_tests_proves_nothing() {
        let log = vec![
            dg(0, 0, 1, WriteReq, "a", "v1"),
            dg(2, 0, 1, ReadReq, "b", ""),
            dg(3, 1, 0, ReadRep, "b", "INIT"),
        ];
        let f = failures(STORE, log);
        assert!(f[0].contains("no read met an earlier write"), "{f:?}");
    }

    #[test]
    fn an_lru_cache_is_replayed() {
        let lru = "lru_cache: { node: cache, capacity: \"{capacity}\" }";
        // Capacity 2: fill a, b; read a (hit); fill c evicts b.
        let mut log = vec![
            dg(0, 0, 3, WriteReq, "a", "1"),
            dg(1, 0, 3, WriteReq, "b", "2"),
            dg(2, 0, 3, ReadReq, "a", ""),
            dg(3, 3, 0, CacheHit, "a", "1"),
            dg(4, 0, 3, WriteReq, "c", "3"),
            dg(5, 0, 3, ReadReq, "b", ""),
            dg(6, 3, 0, CacheMiss, "b", ""),
            dg(7, 0, 3, ReadReq, "a", ""),
            dg(8, 3, 0, CacheHit, "a", "1"),
        ];
        assert_eq!(failures(lru, log.clone()), Vec::<String>::new());
        // A cache that never evicts answers a hit for b.
        log[6] = dg(6, 3, 0, CacheHit, "b", "2");
        let f = failures(lru, log.clone());
        assert!(
            f[0].contains("CACHE_HIT for key b at 6 ms")
                && f[0].contains("evicted at 4 ms when key c was stored"),
            "{f:?}"
        );
        // One that evicted the most recently used (a) misses a.
        log[6] = dg(6, 3, 0, CacheMiss, "b", "");
        log[8] = dg(8, 3, 0, CacheMiss, "a", "");
        let f = failures(lru, log);
        assert!(
            f[0].contains("CACHE_MISS for key a at 8 ms") && f[0].contains("still holds it"),
            "{f:?}"
        );
    }

    #[test]
    fn routing_order_and_windows() {
        // hash64("AAAAAAAAAAotIhz") % 2 = 0, hash64("hello") % 2 = 1.
        let routed = "routed: { from: client, to: server, by: hash64 }";
        let log = vec![
            dg(0, 0, 1, ReadReq, "AAAAAAAAAAotIhz", ""),
            dg(1, 0, 2, ReadReq, "hello", ""),
        ];
        assert_eq!(failures(routed, log), Vec::<String>::new());
        let f = failures(routed, vec![dg(0, 0, 1, ReadReq, "hello", "")]);
        assert!(
            f[0].contains("for key hello to server0")
                && f[0].contains("belongs to partition 1 (hash64 % 2 = 1), served by server1"),
            "{f:?}"
        );

        let before = "before:\n  first: { from: server0, type: READ_REP }\n  then: { from: client, to: cache, type: WRITE_REQ }\n  same_value: true\n";
        let fill = vec![
            dg(0, 1, 0, ReadRep, "k", "v"),
            dg(1, 0, 3, WriteReq, "k", "v"),
        ];
        assert_eq!(failures(before, fill), Vec::<String>::new());
        let early = vec![
            dg(0, 0, 3, WriteReq, "k", "v"),
            dg(1, 1, 0, ReadRep, "k", "v"),
        ];
        let f = failures(before, early);
        assert!(
            f[0].contains("before any READ_REP for key k from server0"),
            "{f:?}"
        );
        let other = vec![
            dg(0, 1, 0, ReadRep, "k", "v"),
            dg(1, 0, 3, WriteReq, "k", "w"),
        ];
        assert_eq!(failures(before, other).len(), 1);

        let followed = "followed_by:\n  each: { from: cache, type: CACHE_MISS }\n  by: { from: client, to: cache, type: WRITE_REQ }\n";
        let f = failures(followed, vec![dg(0, 3, 0, CacheMiss, "k", "")]);
        assert!(
            f[0].contains("and no WRITE_REQ for key k from client to cache came after it"),
            "{f:?}"
        );
        let mut lost = dg(0, 3, 0, CacheMiss, "k", "");
        lost.fate = Fate::Dropped;
        lost.delivered.clear();
        assert_eq!(failures(followed, vec![lost]), Vec::<String>::new());
        // Held by a delay until the test ended: it never reached the client.
        let mut held = dg(0, 3, 0, CacheMiss, "k", "");
        held.delivered.clear();
        assert_eq!(failures(followed, vec![held]), Vec::<String>::new());

        let none = "none: { from: client, to: server, after: { from: server0, type: READ_REP } }";
        let quiet = vec![
            dg(0, 0, 1, ReadReq, "k", ""),
            dg(1, 1, 0, ReadRep, "k", "v"),
        ];
        assert_eq!(failures(none, quiet.clone()), Vec::<String>::new());
        let mut again = quiet;
        again.push(dg(2, 0, 2, ReadReq, "k", ""));
        let f = failures(none, again);
        assert!(
            f[0].contains("client sent a READ_REQ to server1 at 2 ms, after a READ_REP for key k"),
            "{f:?}"
        );
    }
}
