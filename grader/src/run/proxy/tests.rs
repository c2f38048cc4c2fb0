use super::*;
use crate::run::clock::Clock;
use crate::run::record::{NodeRecord, Record};
use crate::spec::{Dur, RuleMatch, TypeName};

fn recorder(n: usize) -> Recorder {
    let nodes = (0..n).map(|i| NodeRecord::new(&format!("n{i}"))).collect();
    Recorder::new(
        "t",
        1,
        Clock::new(Duration::from_secs(60), Duration::from_secs(60)),
        nodes,
    )
}

fn setup(
    homes: &[Option<u16>],
    faults: Faults,
    seed: u64,
    rules: Vec<(usize, usize, Rule)>,
) -> Setup {
    let n = homes.len();
    Setup {
        hosts: homes.iter().map(|&home| Host { home }).collect(),
        faults: vec![vec![faults; n]; n],
        seeds: (0..n)
            .map(|a| (0..n).map(|b| seed ^ (a * n + b) as u64).collect())
            .collect(),
        rules,
        keep: 20_000,
        send_rate: 5_000,
    }
}

fn wait_for(rec: &Recorder, n: usize) {
    assert!(
        rec.wait_until(Instant::now() + Duration::from_secs(5), |l| {
            l.record.datagrams.len() >= n
        })
    );
}

/// A server on node 0 and a client (address learned) on node 1.
fn pair(
    faults: Faults,
    seed: u64,
    rules: Vec<(usize, usize, Rule)>,
) -> (UdpSocket, UdpSocket, Network, Recorder) {
    pair_limited(faults, seed, rules, 20_000, 5_000)
}

/// [`pair`], with the record keeping `keep` datagrams and a send rate.
fn pair_limited(
    faults: Faults,
    seed: u64,
    rules: Vec<(usize, usize, Rule)>,
    keep: usize,
    send_rate: u32,
) -> (UdpSocket, UdpSocket, Network, Recorder) {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&server, &client] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let port = server.local_addr().unwrap().port();
    let rec = recorder(2);
    let setup = Setup {
        keep,
        send_rate,
        ..setup(&[Some(port), None], faults, seed, rules)
    };
    let net = Network::start(setup, &rec).unwrap();
    (server, client, net, rec)
}

fn finish(mut net: Network, rec: &Recorder) -> Record {
    net.stop();
    rec.finish()
}

#[test]
fn a_request_and_its_reply_pass_through_distinct_faces() {
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    let to_server = net.face_port(1, 0);
    client.send_to(b"ping", ("127.0.0.1", to_server)).unwrap();
    let mut buf = [0u8; 64];
    let (n, src) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(
        src.port(),
        net.face_port(0, 1),
        "the server sees the client's face"
    );
    server.send_to(b"pong", src).unwrap();
    let (n, src) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(
        src.port(),
        to_server,
        "the reply comes from where the request went"
    );
    wait_for(&rec, 2);
    let log = finish(net, &rec).datagrams;
    assert_eq!(
        (log[0].from, log[0].to, log[0].fate),
        (1, 0, Fate::Delivered)
    );
    assert_eq!(log[0].delivered.len(), 1);
    assert!(log[0].delivered[0] >= log[0].sent);
    assert_eq!((log[1].from, log[1].to), (0, 1));
}

#[test]
fn to_a_node_without_an_address_is_undeliverable() {
    let (server, _client, net, rec) = pair(Faults::default(), 1, vec![]);
    server
        .send_to(b"hello", ("127.0.0.1", net.face_port(0, 1)))
        .unwrap();
    wait_for(&rec, 1);
    assert_eq!(finish(net, &rec).datagrams[0].fate, Fate::Undeliverable);
}

fn fates(
    seed: u64,
    faults: Faults,
    count: usize,
    rules: Vec<(usize, usize, Rule)>,
) -> Vec<(Fate, Option<usize>)> {
    requests(seed, faults, count, rules)
        .datagrams
        .iter()
        .map(|d| (d.fate, d.rule))
        .collect()
}

/// The record of `count` READ_REQs from the client, with keys K0 K0 K1
/// K1 ...: requests 0, 1, ... of two copies each.
fn requests(seed: u64, faults: Faults, count: usize, rules: Vec<(usize, usize, Rule)>) -> Record {
    let (_server, client, net, rec) = pair(faults, seed, rules);
    for i in 0..count {
        let m = Message::new(handout::MsgType::ReadReq, &format!("K{}", i / 2), "").unwrap();
        client
            .send_to(&m.encode(), ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
    }
    wait_for(&rec, count);
    finish(net, &rec)
}

#[test]
fn each_kind_of_fault_draws_from_a_stream_of_its_own() {
    // Each kind's decisions follow from the link's seed and the kind's
    // name alone: what another kind draws, or whether it exists, changes
    // none of them.
    let f = Faults {
        drop: 0.5,
        duplicate: 0.3,
        ..Faults::default()
    };
    let mut draws = Draws::new(42);
    let stream = |kind: &str| Rng::new(seed::derive(42, kind));
    let (mut drop, mut dup, mut jitter) = (stream("drop"), stream("duplicate"), stream("jitter"));
    for _ in 0..200 {
        let (d, u, j) = draws.next(&f);
        assert_eq!(d, drop.chance(0.5));
        assert_eq!(u, dup.chance(0.3));
        assert_eq!(j, [jitter.next_f64(), jitter.next_f64()]);
    }
}

#[test]
fn the_same_seed_makes_the_same_decisions() {
    let f = Faults {
        drop: 0.3,
        duplicate: 0.2,
        ..Faults::default()
    };
    let a = fates(7, f, 60, vec![]);
    assert_eq!(a, fates(7, f, 60, vec![]));
    assert_ne!(a, fates(8, f, 60, vec![]));
    let dropped = a.iter().filter(|x| x.0 == Fate::Dropped).count();
    assert!(
        (5..=35).contains(&dropped),
        "{dropped} of 60 dropped at p=0.3"
    );
    assert!(a.iter().any(|x| x.0 == Fate::Duplicated));
}

fn rule(
    kind: fn(RuleMatch) -> Rule,
    nth: Option<Vec<usize>>,
    request: Option<Vec<usize>>,
    copy: Option<Vec<usize>>,
) -> (usize, usize, Rule) {
    (
        1,
        0,
        kind(RuleMatch {
            from: "n1".into(),
            to: "n0".into(),
            kind: Some(TypeName(handout::MsgType::ReadReq)),
            nth,
            request,
            copy,
            ..RuleMatch::default()
        }),
    )
}

#[test]
fn rules_decide_before_the_probabilities_and_leave_the_draws_alone() {
    // Keys K0 K0 K1 K1 K2 K2 K3 K3: requests 0..3, two copies each.
    let never = Faults::default();
    let got = fates(
        1,
        never,
        8,
        vec![rule(Rule::Drop, Some(vec![1, 4]), None, None)],
    );
    let dropped: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, f)| f.0 == Fate::Dropped)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(dropped, [0, 3]);
    assert_eq!(got[0].1, Some(0));
    let got = fates(
        1,
        never,
        8,
        vec![rule(Rule::Duplicate, None, Some(vec![0, 2]), Some(vec![1]))],
    );
    let dup: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, f)| f.0 == Fate::Duplicated)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(dup, [0, 4], "the first copy of requests 0 and 2");
    // With every datagram dropped at random, a rule still wins, and the
    // random decisions of the others stay what they were.
    let always = Faults {
        drop: 0.5,
        ..Faults::default()
    };
    let plain = fates(9, always, 8, vec![]);
    let ruled = fates(
        9,
        always,
        8,
        vec![rule(Rule::Duplicate, Some(vec![2]), None, None)],
    );
    for i in [0, 2, 3, 4, 5, 6, 7] {
        assert_eq!(plain[i].0, ruled[i].0, "datagram {i}");
    }
    assert_eq!(ruled[1].0, Fate::Duplicated);
}

#[test]
fn a_delayed_datagram_arrives_late_and_its_delivery_is_recorded() {
    let mut delay = rule(Rule::Delay, Some(vec![1]), None, None);
    if let Rule::Delay(m) = &mut delay.2 {
        m.by = Some(Dur(Duration::from_millis(150)));
    }
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![delay]);
    let t = Instant::now();
    let m = Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
    client
        .send_to(&m.encode(), ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
    let mut buf = [0u8; 64];
    server.recv_from(&mut buf).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!(
        rec.wait_until(Instant::now() + Duration::from_secs(5), |l| l.delivered_to
            [0]
            == 1)
    );
    let d = &finish(net, &rec).datagrams[0];
    assert_eq!(d.delays, [Duration::from_millis(150)]);
    assert!(d.delivered[0] >= d.sent + Duration::from_millis(150));
}

#[test]
fn settling_reads_everything_already_sent() {
    let (_server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    for i in 0..50u8 {
        client
            .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
    }
    // No waiting on the record: settling alone makes it complete.
    assert!(net.settle(&rec));
    assert_eq!(rec.read(|l| l.record.datagrams.len()), 50);
    assert!(net.settle(&rec), "twice");
}

/// Whoever sees a program exit settles through the record: what the
/// program sent is recorded before its exit is.
#[test]
fn the_record_settles_the_proxy_through_its_settler() {
    let (_server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    rec.set_settler(net.settler().unwrap());
    for i in 0..50u8 {
        client
            .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
    }
    assert!(rec.settle_network());
    assert_eq!(rec.read(|l| l.record.datagrams.len()), 50);
    drop(net);
    assert!(!rec.settle_network(), "a stopped proxy reads nothing more");
}

#[test]
fn a_partition_cuts_both_ways() {
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    net.partition(0, 1);
    client
        .send_to(b"x", ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
    wait_for(&rec, 1);
    net.heal();
    client
        .send_to(b"y", ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
    let mut buf = [0u8; 8];
    let (n, _) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert_eq!(finish(net, &rec).datagrams[0].fate, Fate::Partitioned);
}

/// Waits until the proxy has counted `n` datagrams, kept or not.
fn wait_counted(rec: &Recorder, n: usize) {
    assert!(
        rec.wait_until(Instant::now() + Duration::from_secs(5), |l| {
            l.record.traffic.received() >= n
        })
    );
}

#[test]
fn past_its_bound_the_record_counts_and_the_proxy_still_forwards() {
    let (server, client, net, rec) = pair_limited(Faults::default(), 1, vec![], 3, 5_000);
    for i in 0..8u8 {
        client
            .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
    }
    let mut buf = [0u8; 8];
    for i in 0..8u8 {
        let (n, _) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[i], "every datagram is forwarded, in order");
    }
    wait_counted(&rec, 8);
    let r = finish(net, &rec);
    assert_eq!(r.datagrams.len(), 3);
    assert_eq!(r.datagrams[2].bytes, [2], "the first ones are kept");
    assert_eq!(r.unkept(), 5);
    assert_eq!(r.traffic.links[1][0].all, 8);
}

#[test]
fn a_sender_over_the_rate_is_refused_and_flagged_once() {
    let (server, client, net, rec) = pair_limited(Faults::default(), 1, vec![], 20_000, 10);
    for i in 0..40u8 {
        client
            .send_to(&[i], ("127.0.0.1", net.face_port(1, 0)))
            .unwrap();
    }
    wait_counted(&rec, 40);
    assert!(rec.read(|l| l.decided), "a flood decides the test");
    // The server got what passed, and nothing else. The proxy counts a
    // datagram after passing it on, and on loopback it is then in the
    // server's socket already: the short timeout only ends the reading.
    server
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut got = 0;
    let mut buf = [0u8; 8];
    while server.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    let r = finish(net, &rec);
    let s = r.traffic.senders[1];
    assert_eq!(s.sent, 40);
    assert!(s.refused > 0, "40 datagrams at once, 10 a second allowed");
    assert_eq!(got, 40 - s.refused);
    // Within one second, exactly the rate passes.
    if s.last - s.first < SECOND {
        assert_eq!(s.refused, 30);
    }
    let refused = r.datagrams.iter().filter(|d| d.fate == Fate::Refused);
    assert_eq!(refused.count(), s.refused);
    let events: Vec<_> = r
        .events_where(|w| match w {
            What::SendRateExceeded { limit } => Some(*limit),
            _ => None,
        })
        .collect();
    assert_eq!(events.len(), 1, "one event, not one per datagram");
    assert_eq!(events[0].0, Some(1));
    assert_eq!(events[0].2, 10);
}

#[test]
fn the_window_slides() {
    let mut p = Pace::default();
    let ms = Duration::from_millis;
    assert!(p.admit(ms(0), 2));
    assert!(p.admit(ms(500), 2));
    assert!(!p.admit(ms(999), 2), "three in one second");
    assert!(p.admit(ms(1000), 2), "the first has left the window");
    assert!(!p.admit(ms(1499), 2));
    assert!(p.admit(ms(1500), 2));
    assert!(p.window.len() <= 2);
}

#[test]
fn a_rule_remembers_only_the_keys_it_can_still_name() {
    let (_, _, request) = rule(Rule::Drop, None, Some(vec![1]), None);
    let mut count = RuleCount::default();
    let named: Vec<bool> = ["A", "B", "A", "B", "C", "D"]
        .iter()
        .map(|k| count.names(&request, Some(k)))
        .collect();
    assert_eq!(named, [false, true, false, true, false, false]);
    for i in 0..10_000 {
        count.names(&request, Some(&format!("K{i}")));
    }
    assert_eq!(count.keys.len(), 2, "keys past request 1 are not kept");
    let (_, _, nth) = rule(Rule::Drop, Some(vec![2]), None, None);
    let mut count = RuleCount::default();
    let named: Vec<bool> = (0..1000)
        .map(|i| count.names(&nth, Some(&format!("K{i}"))))
        .collect();
    assert_eq!(named.iter().filter(|&&n| n).count(), 1);
    assert!(named[1]);
    assert!(count.keys.is_empty(), "a rule by place alone keeps no key");
}

/// Sends `bytes` from the client (node 1) to the server (node 0).
fn up(client: &UdpSocket, net: &Network, bytes: &[u8]) {
    client
        .send_to(bytes, ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
}

/// Sends `bytes` from the server (node 0) to the client (node 1).
fn down(server: &UdpSocket, net: &Network, bytes: &[u8]) {
    server
        .send_to(bytes, ("127.0.0.1", net.face_port(0, 1)))
        .unwrap();
}

/// Receives one datagram on `socket`, which must be `want`.
fn expect(socket: &UdpSocket, want: &[u8]) {
    let mut buf = [0u8; 64];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], want);
}

/// The fates of the record's datagrams, with their links.
fn links(r: &Record) -> Vec<(usize, usize, Fate)> {
    r.datagrams.iter().map(|d| (d.from, d.to, d.fate)).collect()
}

#[test]
fn a_cut_drops_one_direction_only() {
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    net.cut(1, 0);
    up(&client, &net, b"lost");
    wait_for(&rec, 1);
    // The client's address is known from the datagram the cut lost.
    down(&server, &net, b"down");
    expect(&client, b"down");
    net.heal();
    up(&client, &net, b"up");
    expect(&server, b"up");
    wait_for(&rec, 3);
    assert_eq!(
        links(&finish(net, &rec)),
        [
            (1, 0, Fate::Partitioned),
            (0, 1, Fate::Delivered),
            (1, 0, Fate::Delivered),
        ]
    );
}

#[test]
fn heal_link_heals_one_direction_of_a_partition() {
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    net.partition(0, 1);
    net.heal_link(1, 0);
    up(&client, &net, b"up");
    expect(&server, b"up");
    down(&server, &net, b"lost");
    wait_for(&rec, 2);
    // Healing it again changes nothing; healing the other direction
    // ends the partition.
    net.heal_link(1, 0);
    down(&server, &net, b"still lost");
    wait_for(&rec, 3);
    net.heal_link(0, 1);
    down(&server, &net, b"down");
    expect(&client, b"down");
    wait_for(&rec, 4);
    assert_eq!(
        links(&finish(net, &rec)),
        [
            (1, 0, Fate::Delivered),
            (0, 1, Fate::Partitioned),
            (0, 1, Fate::Partitioned),
            (0, 1, Fate::Delivered),
        ]
    );
}

#[test]
fn heal_link_heals_a_cut_and_heal_clears_every_cut() {
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    net.cut(1, 0);
    // Healing the other direction leaves the cut.
    net.heal_link(0, 1);
    up(&client, &net, b"lost");
    wait_for(&rec, 1);
    net.heal_link(1, 0);
    up(&client, &net, b"one");
    expect(&server, b"one");
    net.cut(1, 0);
    net.cut(0, 1);
    up(&client, &net, b"lost");
    wait_for(&rec, 3);
    down(&server, &net, b"lost");
    wait_for(&rec, 4);
    net.heal();
    up(&client, &net, b"two");
    expect(&server, b"two");
    down(&server, &net, b"three");
    expect(&client, b"three");
    wait_for(&rec, 6);
    assert_eq!(
        links(&finish(net, &rec)),
        [
            (1, 0, Fate::Partitioned),
            (1, 0, Fate::Delivered),
            (1, 0, Fate::Partitioned),
            (0, 1, Fate::Partitioned),
            (1, 0, Fate::Delivered),
            (0, 1, Fate::Delivered),
        ]
    );
}

#[test]
fn set_faults_changes_one_link_while_the_test_runs() {
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![]);
    up(&client, &net, b"before");
    expect(&server, b"before");
    let lossy = Faults {
        drop: 1.0,
        ..Faults::default()
    };
    net.set_faults(1, 0, lossy);
    for _ in 0..5 {
        up(&client, &net, b"lost");
    }
    wait_for(&rec, 6);
    // The other direction keeps its faults.
    down(&server, &net, b"down");
    expect(&client, b"down");
    net.set_faults(1, 0, Faults::default());
    up(&client, &net, b"after");
    expect(&server, b"after");
    wait_for(&rec, 8);
    let fates: Vec<Fate> = finish(net, &rec).datagrams.iter().map(|d| d.fate).collect();
    assert_eq!(
        fates,
        [
            Fate::Delivered,
            Fate::Dropped,
            Fate::Dropped,
            Fate::Dropped,
            Fate::Dropped,
            Fate::Dropped,
            Fate::Delivered,
            Fate::Delivered,
        ]
    );
}

/// A rule that duplicates every READ_REQ from the client, the second
/// copy `by` later.
fn duplicate_by(by: Duration) -> (usize, usize, Rule) {
    let mut dup = rule(Rule::Duplicate, None, None, None);
    if let Rule::Duplicate(m) = &mut dup.2 {
        m.by = Some(Dur(by));
    }
    dup
}

#[test]
fn a_duplicate_rule_with_by_delivers_the_second_copy_later() {
    let by = Duration::from_millis(150);
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![duplicate_by(by)]);
    let t = Instant::now();
    let m = Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
    up(&client, &net, &m.encode());
    expect(&server, &m.encode());
    expect(&server, &m.encode());
    assert!(t.elapsed() >= by);
    assert!(
        rec.wait_until(Instant::now() + Duration::from_secs(5), |l| l.delivered_to
            [0]
            == 2)
    );
    let d = &finish(net, &rec).datagrams[0];
    assert_eq!(d.fate, Fate::Duplicated);
    assert_eq!(d.rule, Some(0));
    assert_eq!(d.delays, [Duration::ZERO, by]);
    assert_eq!(d.delivered.len(), 2);
    assert!(d.delivered[1] >= d.sent + by, "{d:?}");
}

#[test]
fn with_jitter_the_second_copy_still_comes_by_after_the_first() {
    // spec-format.md, Network rules: "the second copy arrives `by`
    // later than the first would, so a stale copy turns up after newer
    // traffic".
    let by = Duration::from_millis(50);
    let jitter = Faults {
        jitter: Dur(Duration::from_millis(100)),
        ..Faults::default()
    };
    let (_server, client, net, rec) = pair(jitter, 1, vec![duplicate_by(by)]);
    for i in 0..20 {
        let m = Message::new(handout::MsgType::ReadReq, &format!("K{i}"), "").unwrap();
        up(&client, &net, &m.encode());
    }
    wait_for(&rec, 20);
    for d in &finish(net, &rec).datagrams {
        assert_eq!(d.fate, Fate::Duplicated);
        assert!(d.delays[1] >= d.delays[0] + by, "{:?}", d.delays);
    }
}

/// A `forge` rule of the client's READ_REQs that changes what `change` sets.
fn forge_rule(
    nth: Option<Vec<usize>>,
    request: Option<Vec<usize>>,
    copy: Option<Vec<usize>>,
    change: impl FnOnce(&mut RuleMatch),
) -> (usize, usize, Rule) {
    let mut r = rule(Rule::Forge, nth, request, copy);
    if let Rule::Forge(m) = &mut r.2 {
        change(m);
    }
    r
}

#[test]
fn a_forgery_arrives_just_before_the_original_from_the_same_face() {
    let value = forge_rule(Some(vec![1]), None, None, |m| {
        m.value = Some("FORGED".into());
    });
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![value]);
    let m = Message::new(handout::MsgType::ReadReq, "K", "").unwrap();
    client
        .send_to(&m.encode(), ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, first_from) = server.recv_from(&mut buf).unwrap();
    let first = Message::decode(&buf[..n]).unwrap();
    assert_eq!((first.key.as_str(), first.value.as_str()), ("K", "FORGED"));
    let (n, second_from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(buf[..n], m.encode()[..], "then the original");
    assert_eq!(first_from, second_from, "both from the client's face");
    wait_for(&rec, 1);
    let r = finish(net, &rec);
    // The client sent one datagram; the grader sent the other.
    assert_eq!(r.datagrams.len(), 1);
    assert_eq!(
        (r.datagrams[0].fate, r.datagrams[0].rule),
        (Fate::Delivered, None)
    );
    assert_eq!(r.traffic.links[1][0].all, 1);
    assert_eq!(r.traffic.senders[1].sent, 1);
    assert_eq!(
        (r.traffic.forged, r.traffic.fired.as_slice()),
        (1, &[1][..])
    );
    let f = &r.forged[0];
    assert_eq!((f.from, f.to, f.rule, f.stranger), (1, 0, 0, false));
    assert_eq!(f.sent, r.datagrams[0].sent);
    assert_eq!(f.changes, "value FORGED");
}

#[test]
fn a_forgery_from_a_stranger_comes_from_no_node_s_address() {
    let stranger = forge_rule(None, None, None, |m| {
        m.sender = Some("stranger".into());
    });
    let (server, client, net, rec) = pair(Faults::default(), 1, vec![stranger]);
    client
        .send_to(&[0u8; 17], ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
    let mut buf = [0u8; 64];
    let (_, forged_from) = server.recv_from(&mut buf).unwrap();
    let (_, real_from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(real_from.port(), net.face_port(0, 1));
    let ports: Vec<u16> = (0..2)
        .flat_map(|a| (0..2).map(move |b| (a, b)))
        .map(|(a, b)| net.face_port(a, b))
        .chain([
            client.local_addr().unwrap().port(),
            server.local_addr().unwrap().port(),
        ])
        .collect();
    assert!(
        !ports.contains(&forged_from.port()),
        "{forged_from} is a node's or a face's"
    );
    wait_for(&rec, 1);
    assert!(finish(net, &rec).forged[0].stranger);
}

#[test]
fn a_forge_rule_counts_as_the_others_and_decides_nothing() {
    // Requests 0..3, two copies each; the forge rule names the first copy
    // of request 1 (datagram 2), which the drop rule after it still loses.
    let forge = forge_rule(None, Some(vec![1]), Some(vec![1]), |m| {
        m.key = Some("other".into());
    });
    let drop = rule(Rule::Drop, Some(vec![3]), None, None);
    let r = requests(1, Faults::default(), 8, vec![forge, drop]);
    assert_eq!(r.forged.len(), 1);
    assert_eq!(
        r.forged[0].bytes,
        Message::new(handout::MsgType::ReadReq, "KA", "")
            .unwrap()
            .encode()
    );
    assert_eq!(r.forged[0].sent, r.datagrams[2].sent);
    assert_eq!(
        (r.datagrams[2].fate, r.datagrams[2].rule),
        (Fate::Dropped, Some(1))
    );
    assert_eq!(r.traffic.fired, [1, 1]);
    assert!(r.datagrams.iter().all(|d| d.rule != Some(0)));
}

#[test]
fn a_forge_rule_leaves_the_random_fates_alone() {
    let f = Faults {
        drop: 0.4,
        duplicate: 0.3,
        ..Faults::default()
    };
    let plain = fates(5, f, 12, vec![]);
    let forge = forge_rule(None, None, None, |m| {
        m.bytes = Some(2);
    });
    let forged = requests(5, f, 12, vec![forge]);
    let fates: Vec<(Fate, Option<usize>)> =
        forged.datagrams.iter().map(|d| (d.fate, d.rule)).collect();
    assert_eq!(
        plain, fates,
        "every original meets the fate it met without the rule"
    );
    assert_eq!(forged.forged.len(), 12);
    assert!(forged.forged.iter().all(|g| g.bytes.len() == 2));
}

#[test]
fn no_forgery_where_the_original_could_not_be_delivered() {
    let forge = forge_rule(None, None, None, |m| {
        m.bytes = Some(2);
    });
    let (_server, client, net, rec) = pair(Faults::default(), 1, vec![forge]);
    net.partition(0, 1);
    client
        .send_to(&[0u8; 17], ("127.0.0.1", net.face_port(1, 0)))
        .unwrap();
    wait_for(&rec, 1);
    let r = finish(net, &rec);
    assert!(r.forged.is_empty());
    assert_eq!(r.traffic.fired.first().copied().unwrap_or(0), 0);
}
