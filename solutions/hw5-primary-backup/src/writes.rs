//! The primary's write table: every write a client has sent, and how far
//! it has got.
//!
//! This module is the heart of the lab. It decides, for each write, when to
//! forward it, when to forward it again, and when to tell the client it is
//! done. It is pure: it touches no socket and reads no clock (the caller
//! passes `now`), and it says what to do as a list of [`Action`]s that the
//! [primary](crate::primary) carries out. That is what lets the unit tests
//! below check every rule without a network.
//!
//! # Acknowledge only after every backup
//!
//! A write is *done* when every replica holds it. The primary therefore
//! answers the client's `WRITE_REQ` with `WRITE_REP` only once **each**
//! backup has acknowledged the forwarded write. Answering earlier, after
//! one backup or before forwarding at all, is faster, and it is a lie: the
//! client believes the write is safe while only one or two replicas hold
//! it, and a crash of the primary at that moment would lose a write the
//! client was told had succeeded. Systems that want the speed anyway say so
//! openly (asynchronous replication in MySQL or Redis can lose the last
//! writes on a fail-over); systems that promise durability wait, as here,
//! or wait for a majority (Raft, Paxos).
//!
//! # A write's identity, for idempotence
//!
//! The network loses datagrams, so the client retransmits a write until it
//! is acknowledged, and the primary retransmits each forward until the
//! backup acknowledges it. Both make copies, and the network may duplicate
//! a datagram on its own. A replica must tell a copy from a new write:
//! applying a late copy of an old write after a newer write of the same key
//! would put the old value back.
//!
//! The record has no request number, so a write is identified by
//! [`WriteId`]: **the address that sent it, its key and its value**. The
//! client draws a fresh random value for every write (15 letters, 62^15
//! possibilities), so two different writes practically never share an
//! identity, while every copy of one write does. The table remembers every
//! identity it has seen and what became of it:
//!
//! - a copy of a write that is **done** is acknowledged again (its
//!   acknowledgement may have been lost), and not applied again;
//! - a copy of a write **in progress** is ignored: the acknowledgement will
//!   come when the backups have answered;
//! - a copy of a write the primary **abandoned** (a backup never answered)
//!   starts its forwarding again: the client is still waiting, and the
//!   backup may be back.
//!
//! Real systems number requests instead: a client id and a sequence number
//! (Viewstamped Replication's client table, the "at-most-once" RPC of MIT's
//! 6.824 labs), which also lets the server forget old entries. This table
//! never forgets; for a lab's few hundred writes that is fine.
//!
//! # One write per key in flight, for the same order everywhere
//!
//! Two writes of the same key, forwarded at once, can reach a backup in
//! either order: datagrams overtake each other, and a retransmitted
//! forward arrives long after the first copy. A backup that applies them in
//! the other order ends with the other value, and the replicas disagree for
//! good. So the primary keeps, per key, a queue of the writes in arrival
//! order, and forwards only the one at the head. The next write of that key
//! is forwarded when every backup has acknowledged the head (or the primary
//! has abandoned it). Writes of different keys do not interfere, and go out
//! in parallel.
//!
//! The primary applies each new write to its own store at once, in arrival
//! order, so its store already has the order the backups will follow. Real
//! systems get the same effect with a log: the primary numbers every
//! operation, and backups apply the log in order (VR's op-number, Raft's
//! log index, chain replication's sequence).
//!
//! # What this does not solve
//!
//! - **No request id in the record.** A backup's `WRITE_REP` carries only
//!   the key. A late duplicate of the acknowledgement of one write could be
//!   taken for the acknowledgement of the next write of the same key. The
//!   same holds for the client. A real protocol puts the operation's number
//!   in every reply.
//! - **No fail-over.** A backup that never answers makes the primary
//!   abandon the write, and the replicas may then disagree. Nothing here
//!   replaces a dead backup or a dead primary, or brings a restarted backup
//!   up to date; that takes a view change and a state transfer (VR, or a
//!   configuration service as in chain replication).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::time::Instant;

use handout::net::Retry;

/// What identifies a write: who sent it, its key and its value. Every copy
/// of one write has the same identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WriteId {
    /// The address the `WRITE_REQ` came from (the client, as the primary
    /// sees it; the primary, as a backup sees it).
    pub client: SocketAddrV4,
    /// The key written.
    pub key: String,
    /// The value written.
    pub value: String,
}

/// Where a write stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Waiting behind an earlier write of the same key.
    Queued,
    /// Forwarded to the backups, waiting for their acknowledgements.
    Forwarding(Forwarding),
    /// Every backup acknowledged it, and the client was answered.
    Done,
    /// Some backup did not acknowledge it after every try; the client was
    /// not answered.
    Abandoned,
}

/// The state of a write being forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    /// For each backup, by its index, whether it acknowledged the write.
    pub acked: Vec<bool>,
    /// How many times the write was sent to the backups so far.
    pub sends: u32,
    /// When to send it again to the backups that have not acknowledged it.
    pub deadline: Instant,
}

/// What the table knows of a write that arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Never seen: apply it, print it, and [admit](WriteTable::admit) it.
    New,
    /// Seen and done: acknowledge it again, nothing else.
    Done,
    /// Seen, queued or being forwarded: ignore this copy.
    InProgress,
    /// Seen and abandoned: [admit](WriteTable::admit) it again.
    Abandoned,
}

/// What the primary must do, as the table decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `WRITE_REQ key value` (33 bytes) to the backup of index
    /// `backup`.
    Forward {
        /// The backup's index, from 0, in `--backups` order.
        backup: usize,
        /// The key written.
        key: String,
        /// The value written.
        value: String,
    },
    /// Every backup acknowledged the write: print `Write is Done` and an
    /// empty line, then send `WRITE_REP key` (17 bytes) to `client`.
    Complete {
        /// Who sent the write.
        client: SocketAddrV4,
        /// The key written.
        key: String,
    },
    /// The backup of index `backup` did not acknowledge the write of `key`
    /// after `tries` sends: the write is abandoned.
    GiveUp {
        /// The backup's index.
        backup: usize,
        /// The key of the abandoned write.
        key: String,
        /// How many times it was sent.
        tries: u32,
    },
}

/// The primary's record of every client write. See the [module
/// documentation](self) for the rules.
#[derive(Debug, Clone)]
pub struct WriteTable {
    /// How many backups each write goes to.
    backups: usize,
    /// How long to wait for the acknowledgements of one send, and how many
    /// sends to make.
    retry: Retry,
    /// Every write ever seen, and where it stands.
    writes: HashMap<WriteId, Status>,
    /// Per key, the writes not yet done or abandoned, in arrival order. The
    /// head is the one being forwarded; the others wait their turn.
    queues: HashMap<String, VecDeque<WriteId>>,
}

impl WriteTable {
    /// An empty table for writes forwarded to `backups` backups, with the
    /// forward timeout and tries of `retry`.
    pub fn new(backups: usize, retry: Retry) -> WriteTable {
        WriteTable {
            backups,
            retry,
            writes: HashMap::new(),
            queues: HashMap::new(),
        }
    }

    /// Where `id` stands, if it was ever seen.
    pub fn status(&self, id: &WriteId) -> Option<&Status> {
        self.writes.get(id)
    }

    /// What the table knows of the write `id` that just arrived: never
    /// seen, done, in progress (queued or forwarding) or abandoned. Changes
    /// nothing.
    pub fn seen(&self, id: &WriteId) -> Seen {
        // hole: recognise a write seen before
        // TODO: Say what the table knows of `id`: never seen, done,
        //       abandoned, or in progress (queued or being forwarded). This
        //       is how a copy of a write is told from a new write.
        match self.writes.get(id) {
            None => Seen::New,
            Some(Status::Done) => Seen::Done,
            Some(Status::Abandoned) => Seen::Abandoned,
            Some(Status::Queued | Status::Forwarding(_)) => Seen::InProgress,
        }
        // end hole
    }

    /// Takes a new write (or an abandoned one, again): puts it at the end
    /// of its key's queue, and forwards it at once if no earlier write of
    /// that key is in progress.
    ///
    /// The caller applies a new write to the primary's store before it
    /// calls this, so the store sees the writes of a key in the order of
    /// the queue.
    pub fn admit(&mut self, id: WriteId, now: Instant) -> Vec<Action> {
        let key = id.key.clone();
        self.writes.insert(id.clone(), Status::Queued);
        self.queues.entry(key.clone()).or_default().push_back(id);
        let mut actions = Vec::new();
        self.start_next(&key, now, &mut actions);
        actions
    }

    /// Forwards the next write of `key`, if one may go out now.
    fn start_next(&mut self, key: &str, now: Instant, actions: &mut Vec<Action>) {
        if let Some(next) = self.next_to_forward(key) {
            self.forward(&next, now, actions);
        }
    }

    /// The write of `key` to forward now: the head of the key's queue, if
    /// it waits. `None` when the queue is empty or missing, or when its head
    /// is being forwarded already.
    pub fn next_to_forward(&self, key: &str) -> Option<WriteId> {
        // hole: pick the next write of a key
        // TODO: Return the head of `key`'s queue if it is still waiting,
        //       and None otherwise: one write of a key at a time, so that
        //       every backup applies a key's writes in the same order.
        let head = self.queues.get(key)?.front()?;
        (self.writes.get(head) == Some(&Status::Queued)).then(|| head.clone())
        // end hole
    }

    /// Marks `id` as being forwarded, for the first time, and adds a
    /// [`Action::Forward`] to every backup to `actions`.
    fn forward(&mut self, id: &WriteId, now: Instant, actions: &mut Vec<Action>) {
        self.writes.insert(
            id.clone(),
            Status::Forwarding(Forwarding {
                acked: vec![false; self.backups],
                sends: 1,
                deadline: now + self.retry.timeout,
            }),
        );
        for backup in 0..self.backups {
            actions.push(Action::Forward {
                backup,
                key: id.key.clone(),
                value: id.value.clone(),
            });
        }
    }

    /// Counts a `WRITE_REP key` from the backup of index `backup`: it
    /// acknowledges the write of `key` being forwarded. When that was the
    /// last acknowledgement missing, the write is done: the actions say to
    /// answer the client, and to forward the next write of the key.
    ///
    /// Returns `None` when no write of `key` is being forwarded: a late
    /// copy of an acknowledgement, or one nobody asked for.
    pub fn acknowledge(&mut self, backup: usize, key: &str, now: Instant) -> Option<Vec<Action>> {
        // hole: count a backup's acknowledgement
        // TODO: Mark `backup` in the write being forwarded for `key` (None
        //       if there is none). Only when EVERY backup has acknowledged
        //       it does every replica hold it: then complete and `finish`
        //       it, which starts the key's next write.
        let head = self.queues.get(key)?.front()?.clone();
        let Some(Status::Forwarding(forwarding)) = self.writes.get_mut(&head) else {
            return None;
        };
        forwarding.acked[backup] = true;
        let mut actions = Vec::new();
        if forwarding.acked.iter().all(|&acked| acked) {
            actions.push(Action::Complete {
                client: head.client,
                key: head.key.clone(),
            });
            self.finish(&head, Status::Done, now, &mut actions);
        }
        Some(actions)
        // end hole
    }

    /// Ends the forwarding of `id` with `status` (done or abandoned),
    /// takes it out of its key's queue, and starts the next write of the
    /// key, if one waits.
    fn finish(&mut self, id: &WriteId, status: Status, now: Instant, actions: &mut Vec<Action>) {
        self.writes.insert(id.clone(), status);
        if let Some(queue) = self.queues.get_mut(&id.key) {
            queue.retain(|queued| queued != id);
            if queue.is_empty() {
                self.queues.remove(&id.key);
            }
        }
        self.start_next(&id.key, now, actions);
    }

    /// The writes being forwarded, each with its state.
    fn in_flight(&self) -> impl Iterator<Item = (&WriteId, &Forwarding)> {
        self.queues
            .values()
            .flatten()
            .filter_map(|id| match self.writes.get(id) {
                Some(Status::Forwarding(forwarding)) => Some((id, forwarding)),
                _ => None,
            })
    }

    /// When the primary must next wake up to retransmit: the earliest
    /// deadline of a write being forwarded, or `None` when nothing is.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.in_flight()
            .map(|(_, forwarding)| forwarding.deadline)
            .min()
    }

    /// Handles the deadlines that have passed by `now`. A write whose
    /// deadline passed is sent again to each backup that has not
    /// acknowledged it; a write already sent `tries` times is abandoned
    /// instead: one [`Action::GiveUp`] per silent backup, no answer to the
    /// client, and the next write of its key goes out.
    pub fn expire(&mut self, now: Instant) -> Vec<Action> {
        let due: Vec<WriteId> = self
            .in_flight()
            .filter(|(_, forwarding)| forwarding.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let mut actions = Vec::new();
        for id in due {
            let Some(Status::Forwarding(forwarding)) = self.writes.get_mut(&id) else {
                continue;
            };
            let silent: Vec<usize> = (0..self.backups)
                .filter(|&backup| !forwarding.acked[backup])
                .collect();
            if forwarding.sends >= self.retry.tries {
                let tries = forwarding.sends;
                for backup in silent {
                    actions.push(Action::GiveUp {
                        backup,
                        key: id.key.clone(),
                        tries,
                    });
                }
                self.finish(&id, Status::Abandoned, now, &mut actions);
            } else {
                forwarding.sends += 1;
                forwarding.deadline = now + self.retry.timeout;
                for backup in silent {
                    actions.push(Action::Forward {
                        backup,
                        key: id.key.clone(),
                        value: id.value.clone(),
                    });
                }
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const KEY: &str = "AAAAAAAAAAATqkp";
    const OTHER: &str = "AAAAAAAAAABH3oF";
    const TIMEOUT: Duration = Duration::from_millis(100);

    fn table(backups: usize, tries: u32) -> WriteTable {
        WriteTable::new(
            backups,
            Retry {
                timeout: TIMEOUT,
                tries,
            },
        )
    }

    fn client(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port)
    }

    fn write(port: u16, key: &str, value: &str) -> WriteId {
        WriteId {
            client: client(port),
            key: key.to_string(),
            value: value.to_string(),
        }
    }

    fn forwards(key: &str, value: &str, backups: &[usize]) -> Vec<Action> {
        backups
            .iter()
            .map(|&backup| Action::Forward {
                backup,
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect()
    }

    fn complete(port: u16, key: &str) -> Action {
        Action::Complete {
            client: client(port),
            key: key.to_string(),
        }
    }

    /// A table that has seen nothing knows no write.
    #[test]
    fn an_unknown_write_is_new() {
        assert_eq!(table(2, 10).seen(&write(40000, KEY, "v1")), Seen::New);
    }

    /// A key with no write waiting has nothing to forward.
    #[test]
    fn nothing_to_forward_for_an_unknown_key() {
        assert_eq!(table(2, 10).next_to_forward(KEY), None);
    }

    /// A new write is forwarded to every backup at once.
    #[test]
    fn a_new_write_goes_to_every_backup() {
        let mut table = table(2, 10);
        let now = Instant::now();
        let id = write(40000, KEY, "v1");
        assert_eq!(table.seen(&id), Seen::New);
        assert_eq!(table.admit(id.clone(), now), forwards(KEY, "v1", &[0, 1]));
        assert_eq!(table.next_deadline(), Some(now + TIMEOUT));
    }

    /// The client is answered only when every backup has acknowledged,
    /// and an acknowledgement repeated by one backup does not count twice.
    #[test]
    fn done_only_after_every_backup() {
        let mut table = table(2, 10);
        let now = Instant::now();
        let id = write(40000, KEY, "v1");
        table.admit(id.clone(), now);
        assert_eq!(table.acknowledge(1, KEY, now), Some(vec![]));
        assert_eq!(
            table.acknowledge(1, KEY, now),
            Some(vec![]),
            "the same backup again"
        );
        assert_eq!(table.seen(&id), Seen::InProgress);
        assert_eq!(
            table.acknowledge(0, KEY, now),
            Some(vec![complete(40000, KEY)])
        );
        assert_eq!(table.status(&id), Some(&Status::Done));
        assert_eq!(table.next_deadline(), None, "nothing left to retransmit");
    }

    /// Every copy of a write is recognised: in progress while forwarded,
    /// done afterwards. Another value, key or sender is another write.
    #[test]
    fn copies_are_recognised() {
        let mut table = table(1, 10);
        let now = Instant::now();
        let id = write(40000, KEY, "v1");
        table.admit(id.clone(), now);
        assert_eq!(table.seen(&id.clone()), Seen::InProgress);
        table.acknowledge(0, KEY, now).unwrap();
        assert_eq!(table.seen(&id), Seen::Done);
        assert_eq!(table.seen(&write(40000, KEY, "v2")), Seen::New);
        assert_eq!(table.seen(&write(40000, OTHER, "v1")), Seen::New);
        assert_eq!(table.seen(&write(40001, KEY, "v1")), Seen::New);
    }

    /// An acknowledgement for a key with no write being forwarded is not
    /// one: late, or nobody asked for it.
    #[test]
    fn a_stray_acknowledgement_is_refused() {
        let mut table = table(2, 10);
        let now = Instant::now();
        assert_eq!(table.acknowledge(0, KEY, now), None);
        table.admit(write(40000, KEY, "v1"), now);
        table.acknowledge(0, KEY, now).unwrap();
        table.acknowledge(1, KEY, now).unwrap();
        assert_eq!(table.acknowledge(0, KEY, now), None, "a late copy");
    }

    /// Writes of one key go out one at a time, in arrival order; a write
    /// of another key goes out at once.
    #[test]
    fn one_write_per_key_in_flight() {
        let mut table = table(2, 10);
        let now = Instant::now();
        table.admit(write(40000, KEY, "v1"), now);
        let second = write(40001, KEY, "v2");
        assert_eq!(table.admit(second.clone(), now), vec![], "v1 is in flight");
        assert_eq!(table.next_to_forward(KEY), None, "the head is in flight");
        assert_eq!(table.status(&second), Some(&Status::Queued));
        assert_eq!(table.seen(&second), Seen::InProgress);
        let third = write(40000, KEY, "v3");
        assert_eq!(table.admit(third.clone(), now), vec![]);
        assert_eq!(
            table.admit(write(40000, OTHER, "w"), now),
            forwards(OTHER, "w", &[0, 1]),
            "another key does not wait"
        );

        assert_eq!(table.acknowledge(0, KEY, now), Some(vec![]));
        let mut expected = vec![complete(40000, KEY)];
        expected.extend(forwards(KEY, "v2", &[0, 1]));
        assert_eq!(table.acknowledge(1, KEY, now), Some(expected));
        assert_eq!(table.status(&third), Some(&Status::Queued));

        table.acknowledge(1, KEY, now).unwrap();
        let mut expected = vec![complete(40001, KEY)];
        expected.extend(forwards(KEY, "v3", &[0, 1]));
        assert_eq!(table.acknowledge(0, KEY, now), Some(expected));
    }

    /// A forward goes out again, to the silent backups only, when its
    /// deadline passes, and not before.
    #[test]
    fn silent_backups_get_the_write_again() {
        let mut table = table(3, 10);
        let start = Instant::now();
        table.admit(write(40000, KEY, "v1"), start);
        table.acknowledge(1, KEY, start).unwrap();
        assert_eq!(table.expire(start + TIMEOUT / 2), vec![]);
        let later = start + TIMEOUT;
        assert_eq!(table.expire(later), forwards(KEY, "v1", &[0, 2]));
        assert_eq!(table.next_deadline(), Some(later + TIMEOUT));
        table.acknowledge(0, KEY, later).unwrap();
        assert_eq!(table.expire(later + TIMEOUT), forwards(KEY, "v1", &[2]));
    }

    /// After `tries` sends the write is abandoned: one GiveUp per silent
    /// backup, no answer to the client, and the next write of the key goes
    /// out. A copy of the abandoned write starts it again.
    #[test]
    fn abandoned_after_the_last_try() {
        let mut table = table(2, 3);
        let mut now = Instant::now();
        let first = write(40000, KEY, "v1");
        table.admit(first.clone(), now);
        table.admit(write(40000, KEY, "v2"), now);
        table.acknowledge(0, KEY, now).unwrap();
        for _ in 0..2 {
            now += TIMEOUT;
            assert_eq!(table.expire(now), forwards(KEY, "v1", &[1]));
        }
        now += TIMEOUT;
        let mut expected = vec![Action::GiveUp {
            backup: 1,
            key: KEY.to_string(),
            tries: 3,
        }];
        expected.extend(forwards(KEY, "v2", &[0, 1]));
        assert_eq!(table.expire(now), expected);
        assert_eq!(table.seen(&first), Seen::Abandoned);

        // The client sends v1 again: it waits behind v2, then goes out anew.
        assert_eq!(table.admit(first.clone(), now), vec![]);
        assert_eq!(table.seen(&first), Seen::InProgress);
        table.acknowledge(0, KEY, now).unwrap();
        let mut expected = vec![complete(40000, KEY)];
        expected.extend(forwards(KEY, "v1", &[0, 1]));
        assert_eq!(table.acknowledge(1, KEY, now), Some(expected));
    }

    /// With one try, a write nobody acknowledges is abandoned at its first
    /// deadline, and nothing is left to wake up for.
    #[test]
    fn one_try_abandons_at_the_first_deadline() {
        let mut table = table(2, 1);
        let now = Instant::now();
        table.admit(write(40000, KEY, "v1"), now);
        let actions = table.expire(now + TIMEOUT);
        assert_eq!(actions.len(), 2);
        assert!(
            actions
                .iter()
                .all(|action| matches!(action, Action::GiveUp { tries: 1, .. }))
        );
        assert_eq!(table.next_deadline(), None);
    }
}
