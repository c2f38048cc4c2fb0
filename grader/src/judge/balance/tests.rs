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
    choices(r, c, &mut out).unwrap();
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
    share(&record(&[], log), c, &mut out).unwrap();
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
