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
//!
//! # One module per kind
//!
//! Each kind of wire check is one file here: the shape a spec writes
//! (a serde struct, with its documentation, which the JSON Schema shows),
//! what validation checks of it, and how it judges a record, behind the
//! [`WireKind`] trait. [`WireCheck`] lists them, one line each: adding a
//! kind is a new file, its `mod` line and its line in [`WireCheck`]
//! (`specs/spec-format.md`, "Adding a kind of wire check", shows one).
//!
//! The models and search a few kinds share stay in modules of their own
//! beside this one ([`super::flow`], [`super::model`], [`super::causal`],
//! [`super::balance`], [`super::replicas`]).

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Check, Failure, Kind, fail, pass};
use crate::run::record::{Datagram, Record, UnknownNode};
use crate::spec::TestSpec;
use crate::spec::place::NodePath;
use crate::spec::validate::Invalid;

pub mod answered;
pub mod before;
pub mod choices;
pub mod count;
pub mod followed_by;
pub mod happens_before;
pub mod length;
pub mod linearizable;
pub mod lru_cache;
pub mod none;
pub mod printed_before;
pub mod printed_received;
pub mod replicas;
pub mod routed;
pub mod share;
pub mod store;
pub mod well_formed;

/// One kind of wire check: what it claims, how it is validated, and how it
/// judges a record.
pub trait WireKind {
    /// The kind, as reports name it.
    fn kind(&self) -> Kind;

    /// The node a report files the check under, if one.
    fn node(&self) -> Option<&str>;

    /// What validation checks beyond the YAML's shape: the nodes it names
    /// exist, its values make sense together.
    ///
    /// # Errors
    /// The first mistake, at the node of the file it is about.
    fn validate(&self, t: &TestSpec, at: &Written) -> Result<(), Invalid>;

    /// Judges `record`: pushes onto `out` one failed [`Check`] per problem.
    /// Returns what it claims when it read datagrams one by one, so that a
    /// cut record that hid the rest makes it not judged rather than passed
    /// (see the module's docs); `None` when it read only the record's
    /// counts, which are exact whatever the cut.
    ///
    /// # Errors
    /// A name the record has no node or group for (validation rules it
    /// out): the check fails saying so.
    fn judge(&self, record: &Record, out: &mut Vec<Check>) -> Result<Option<Unsure>, UnknownNode>;
}

/// Where a wire check is written in its test, for its errors.
#[derive(Debug, Clone)]
pub struct Written {
    /// Its item in `wire`: an error about the check as a whole.
    pub item: NodePath,
    /// Its body, under its kind's key.
    pub check: NodePath,
}

impl Written {
    /// Field `name` of the check.
    pub fn field(&self, name: &str) -> NodePath {
        self.check.key(name)
    }
}

/// What a check that read datagrams one by one could not make sure of on a
/// cut record.
#[derive(Debug, Clone, Default)]
pub struct Unsure {
    /// What the check would have said held ("server answered every READ_REQ").
    pub claim: String,
    /// Why the datagrams kept are not enough, when there is more to say
    /// than that the record was cut.
    pub why: String,
}

impl Unsure {
    /// A claim with nothing more to say.
    pub fn claim(claim: impl Into<String>) -> Option<Unsure> {
        Some(Unsure {
            claim: claim.into(),
            why: String::new(),
        })
    }
}

/// A check on the datagrams the proxy recorded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WireCheck {
    /// Every `request` delivered to `by` is answered by `by` with a `reply`
    /// carrying the same key, sent back to the requester's own address.
    Answered(answered::AnsweredCheck),
    /// Every datagram of a type (sent by `from`, or by anyone) has one of these lengths.
    Length(length::LengthCheck),
    /// Every datagram a node sends is a well-formed record.
    WellFormed(well_formed::WellFormedCheck),
    /// The number of datagrams sent from one node to another lies in a range.
    Count(count::CountCheck),
    /// No datagram from one node to another, over the whole run or in a
    /// window: after the first datagram that matches `after`, and before
    /// the first that matches `until` after it.
    None(none::NoneCheck),
    /// Every datagram `from` sends to a member of the group `to` (of the
    /// types given) goes to the member of its key's partition: with
    /// `by: hash64`, member number `hash64(key) % N` of the N in the group.
    Routed(routed::RoutedCheck),
    /// A happens-before check: every datagram that matches `then` comes
    /// after one that matches `first` (sent earlier; with the same key
    /// unless `same_key: false`; with the same value if `same_value`).
    Before(before::BeforeCheck),
    /// Every datagram that matches `each` is followed, later, by one that
    /// matches `by` (with the same key unless `same_key: false`).
    FollowedBy(followed_by::FollowedByCheck),
    /// The replies to reads carry what was last written, key by key, as a
    /// store of registers would: each datagram that matches `replies`
    /// answers the last earlier datagram that matches `reads` with its key,
    /// sent by the reply's receiver; its value must be the value the key
    /// held when that read was sent (the last write that matches `writes`
    /// and was delivered, or `initial`), or one written while the read was
    /// in flight.
    Store(store::StoreCheck),
    /// A node behaves as a least-recently-used cache of `capacity` entries:
    /// replayed in the order they were delivered, each READ_REQ is answered
    /// CACHE_HIT with the value last stored if the key is held, else
    /// CACHE_MISS; each WRITE_REQ stores its value; a read or a write makes
    /// its key the most recently used, and a write that makes one entry
    /// too many evicts the least recently used.
    LruCache(lru_cache::LruCacheCheck),
    /// A happens-before check across nodes: each datagram that matches
    /// `effect` (key k, to node c) comes after a datagram that matches
    /// `causes` with key k was *delivered*, from each node `causes.from`
    /// names (a group: every member), since the request it answers: the
    /// first datagram that matches `since`, sent by c with key k after the
    /// previous `effect` to c with key k.
    HappensBefore(happens_before::HappensBeforeCheck),
    /// Choices a node prints among candidates, checked against the
    /// record: the candidates differ, and the chosen one had no more
    /// requests in flight than the other.
    Choices(choices::ChoicesCheck),
    /// The share of a node's datagrams that go to one node among a group.
    Share(share::ShareCheck),
    /// The clients' history of reads and writes, key by key, is
    /// linearizable for a register.
    Linearizable(linearizable::LinearCheck),
    /// The end-state `query` found every key with the same value on every node.
    Replicas(replicas::ReplicasCheck),
    /// A printed line comes before a datagram is delivered: the k-th line
    /// that matches, before the k-th delivery of a datagram that matches.
    PrintedBefore(printed_before::PrintedBeforeCheck),
    /// Each line that matches reports a datagram received: one that
    /// matches `delivered`, with the key (and value) the line prints,
    /// delivered before the line was printed, a line for each delivery.
    PrintedReceived(printed_received::PrintedReceivedCheck),
}

impl WireCheck {
    /// The check's key in a spec (`answered`, `lru_cache`), and the check
    /// as its kind.
    pub fn as_kind(&self) -> (&'static str, &dyn WireKind) {
        match self {
            WireCheck::Answered(c) => ("answered", c),
            WireCheck::Length(c) => ("length", c),
            WireCheck::WellFormed(c) => ("well_formed", c),
            WireCheck::Count(c) => ("count", c),
            WireCheck::None(c) => ("none", c),
            WireCheck::Routed(c) => ("routed", c),
            WireCheck::Before(c) => ("before", c),
            WireCheck::FollowedBy(c) => ("followed_by", c),
            WireCheck::Store(c) => ("store", c),
            WireCheck::LruCache(c) => ("lru_cache", c),
            WireCheck::HappensBefore(c) => ("happens_before", c),
            WireCheck::Choices(c) => ("choices", c),
            WireCheck::Share(c) => ("share", c),
            WireCheck::Linearizable(c) => ("linearizable", c),
            WireCheck::Replicas(c) => ("replicas", c),
            WireCheck::PrintedBefore(c) => ("printed_before", c),
            WireCheck::PrintedReceived(c) => ("printed_received", c),
        }
    }

    /// The check's key in a spec: `answered`, `lru_cache`, `printed_before`.
    pub fn name(&self) -> &'static str {
        self.as_kind().0
    }
}

/// When a datagram was sent, as a report writes it.
pub(crate) fn at(d: &Datagram) -> String {
    format!("{} ms", d.sent.as_millis())
}

/// Runs one wire check; each problem is one failed [`Check`], and a check
/// that holds is one passed [`Check`].
pub fn check(c: &WireCheck, record: &Record) -> Vec<Check> {
    let (_, c) = c.as_kind();
    let mut out = Vec::new();
    let unsure = match c.judge(record, &mut out) {
        Ok(unsure) => unsure,
        Err(e) => {
            out.push(fail(
                c.kind(),
                c.node(),
                Failure::new(format!("cannot judge this check: {e}"))
                    .note("validation should have refused the spec; this is the grader's mistake, not the program's"),
            ));
            None
        }
    };
    // On a cut record, a check that found nothing wrong among the datagrams
    // kept is not judged: the rest could break it.
    if let Some(u) = unsure
        && out.is_empty()
        && record.unkept() > 0
    {
        out.push(fail(
            c.kind(),
            c.node(),
            not_judged(record, &u.claim, &u.why),
        ));
    }
    if out.is_empty() {
        out.push(pass(c.kind(), c.node()));
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
                pass(Kind::RULE, None)
            } else {
                fail(
                    Kind::RULE,
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

    /// A forged datagram is the grader's: no check counts it as sent by
    /// the node whose datagram it was made from.
    #[test]
    fn forged_datagrams_are_not_what_a_node_sent() {
        let log = vec![
            dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered),
            dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered),
        ];
        let forged = |bytes: Vec<u8>| crate::run::record::Forged {
            sent: Duration::from_millis(1),
            from: 1,
            to: 0,
            stranger: false,
            bytes,
            rule: 0,
            changes: "2 bytes".into(),
        };
        let unanswered = Message::new(MsgType::ReadReq, "K2", "").unwrap().encode();
        let record = Record {
            forged: vec![forged(vec![0, 1]), forged(unanswered)],
            ..record(log)
        };
        let count = WireCheck::Count(count::CountCheck {
            from: "client1".into(),
            to: "server".into(),
            kind: Some(TypeName(MsgType::ReadReq)),
            min: Some(1),
            max: Some(1),
        });
        let well_formed = WireCheck::WellFormed(well_formed::WellFormedCheck {
            from: "client1".into(),
        });
        for c in [answered(), count, well_formed] {
            let failed: Vec<String> = check(&c, &record)
                .into_iter()
                .filter_map(|c| c.failure.map(|f| f.summary))
                .collect();
            assert!(failed.is_empty(), "{failed:?}");
        }
    }

    fn answered() -> WireCheck {
        WireCheck::Answered(answered::AnsweredCheck {
            by: "server".into(),
            request: TypeName(MsgType::ReadReq),
            reply: crate::spec::OneOrMany::One(TypeName(MsgType::ReadRep)),
            value: None,
        })
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

    /// A reply that is not a record (the course's unterminated value) is
    /// named as such, not as no answer at all.
    #[test]
    fn a_malformed_reply_is_named_not_missing() {
        let mut bad = dg(2, 0, 1, MsgType::ReadRep, "K1", Fate::Delivered);
        bad.bytes[17..33].copy_from_slice(b"DDDDCCCCBBBBAAAA");
        let log = vec![dg(1, 1, 0, MsgType::ReadReq, "K1", Fate::Delivered), bad];
        let f = failures(&answered(), log);
        assert_eq!(
            f,
            [
                "server answered the READ_REQ for key K1 that client1 sent at 1 ms with a 33-byte datagram that is not a valid record: value is not NUL-terminated within 16 bytes"
            ]
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
        let c = WireCheck::Length(length::LengthCheck {
            kind: TypeName(MsgType::ReadReq),
            bytes: vec![33],
            from: None,
        });
        assert!(failures(&c, vec![short.clone()])[0].contains("of 17 bytes"));
        let c = WireCheck::Count(count::CountCheck {
            from: "client1".into(),
            to: "server".into(),
            kind: None,
            min: Some(2),
            max: None,
        });
        assert!(
            failures(&c, vec![short])[0].contains("sent 1 datagram to server; expected at least 2")
        );
        let mut bad = dg(0, 1, 0, MsgType::ReadReq, "K", Fate::Delivered);
        bad.bytes = vec![1, 2, 3];
        let c = WireCheck::WellFormed(well_formed::WellFormedCheck {
            from: "client1".into(),
        });
        assert!(failures(&c, vec![bad])[0].contains("malformed"));
    }

    #[test]
    fn a_check_that_names_no_node_of_the_record_fails_instead_of_dropping_out() {
        let checks = [
            WireCheck::WellFormed(well_formed::WellFormedCheck {
                from: "nobody".into(),
            }),
            WireCheck::Before(before::BeforeCheck {
                first: crate::spec::Match {
                    from: Some("nobody".into()),
                    ..Default::default()
                },
                then: crate::spec::Match::default(),
                same_key: true,
                same_value: false,
            }),
        ];
        for c in checks {
            let f = failures(&c, vec![]);
            assert_eq!(f.len(), 1, "{f:?}");
            assert!(
                f[0].contains("cannot judge this check: the test has no node or group `nobody`"),
                "{f:?}"
            );
        }
    }

    #[test]
    fn a_misrouted_reply_is_found_past_those_to_the_sender() {
        let mut e = answered::Elsewhere {
            sent: vec![(2, 1), (3, 1), (5, 1), (8, 2), (9, 1)],
            ..answered::Elsewhere::default()
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
        let length = WireCheck::Length(length::LengthCheck {
            kind: TypeName(MsgType::ReadReq),
            bytes: vec![33],
            from: None,
        });
        assert!(summaries(check(&length, &cut(log.clone(), 4)))[0].contains("of 17 bytes"));
        let f = summaries(check(&length, &cut(log.clone(), 3)));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].starts_with("cannot check that every READ_REQ is 33 bytes"),
            "{f:?}"
        );
        // Counts are exact whatever was kept.
        let count = WireCheck::Count(count::CountCheck {
            from: "client1".into(),
            to: "server".into(),
            kind: Some(TypeName(MsgType::ReadReq)),
            min: Some(3),
            max: Some(3),
        });
        assert!(summaries(check(&count, &cut(log, 1))).is_empty());
    }
}
