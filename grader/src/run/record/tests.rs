use super::*;
use std::collections::BTreeSet;
use std::time::Instant;

fn ten_seconds() -> Clock {
    Clock::new(Duration::from_secs(10), Duration::from_secs(10))
}

#[test]
fn a_hole_on_stderr_decides_the_test() {
    let r = Recorder::new("t", 1, ten_seconds(), vec![NodeRecord::new("a")]);
    r.line(0, Stream::Stdout, "not yet implemented: on stdout".into());
    r.line(
        0,
        Stream::Stderr,
        "thread 'main' panicked at src/x.rs:3:5:".into(),
    );
    assert!(!r.read(|l| l.decided), "no hole yet");
    r.line(
        0,
        Stream::Stderr,
        "not yet implemented: route the request".into(),
    );
    assert!(r.read(|l| l.decided));
    let holes: Vec<String> = r.read(|l| {
        l.record
            .events
            .iter()
            .filter_map(|e| match &e.what {
                What::StoppedAtHole { hole } => Some(hole.clone()),
                _ => None,
            })
            .collect()
    });
    assert_eq!(holes, ["route the request"]);
    assert_eq!(
        hole_in("not yet implemented").as_deref(),
        Some("(a todo!() without text)")
    );
}

/// A wait says whether its own bound or the test's time limit ended
/// it: whichever comes first on the test's clock.
#[test]
fn a_wait_names_what_ended_it() {
    let short = Clock::new(Duration::from_millis(20), Duration::from_secs(10));
    let r = Recorder::new("t", 1, short, vec![NodeRecord::new("a")]);
    assert_eq!(
        r.wait(Some(Duration::from_secs(5)), None, |_| false),
        Wake::TimeUp
    );
    assert!(r.time_up());
    let r = Recorder::new("t", 1, ten_seconds(), vec![NodeRecord::new("a")]);
    let until = r.clock() + Duration::from_millis(20);
    assert_eq!(r.wait(Some(until), None, |_| false), Wake::Passed);
    let soon = Instant::now() + Duration::from_millis(20);
    assert_eq!(r.wait(None, Some(soon), |_| false), Wake::Passed);
    assert_eq!(r.wait(None, None, |_| true), Wake::Ready);
}

/// While a program starts, the test's time limit cannot pass: a wait
/// ends only after the program's first sign of life (however late
/// this machine runs the waiter, never before it).
#[test]
fn the_time_limit_waits_for_a_program_that_is_starting() {
    let clock = Clock::new(Duration::from_millis(50), Duration::from_secs(60));
    let r = Recorder::new("t", 1, clock, vec![NodeRecord::new("client")]);
    let started = What::Started {
        command: vec!["client".into()],
        pid: 1,
    };
    r.event(Some(0), started);
    let w = r.clone();
    let waiter = std::thread::spawn(move || {
        let wake = w.wait(None, None, |_| false);
        (wake, w.now())
    });
    // Four times the limit, on the wall clock, before it shows life.
    std::thread::sleep(Duration::from_millis(200));
    let ready = r.now();
    r.line(0, Stream::Stderr, "client: seed 7".into());
    let (wake, ended) = waiter.join().unwrap();
    assert_eq!(wake, Wake::TimeUp);
    assert!(ended >= ready, "ended at {ended:?}, ready at {ready:?}");
    let c = r.read(|l| l.record.clock.clone());
    assert!(c.standing(ended) >= Duration::from_millis(200));
}

#[test]
fn waiters_wake_on_events() {
    let r = Recorder::new(
        "t",
        1,
        ten_seconds(),
        vec![NodeRecord::new("a"), NodeRecord::new("b")],
    );
    let w = r.clone();
    let t = std::thread::spawn(move || {
        w.wait_until(Instant::now() + Duration::from_secs(10), |l| {
            l.record.nodes[0].stdout.iter().any(|x| x.text == "ready")
        })
    });
    r.line(0, Stream::Stdout, "not yet".into());
    r.line(0, Stream::Stdout, "ready".into());
    assert!(t.join().unwrap());
    assert!(!r.wait_until(Instant::now(), |_| false));
}

#[test]
fn life_and_deliveries_are_tracked() {
    let r = Recorder::new(
        "t",
        1,
        ten_seconds(),
        vec![NodeRecord::new("server"), NodeRecord::new("client")],
    );
    r.event(
        Some(1),
        What::Started {
            command: vec![],
            pid: 1,
        },
    );
    r.update(|l| l.may_start = vec![false, false]);
    assert!(!r.read(|l| l.nobody_left_for(0)), "the client is running");
    let i = r.datagram(
        Datagram {
            sent: Duration::ZERO,
            from: 1,
            to: 0,
            bytes: vec![1],
            fate: Fate::Duplicated,
            delays: vec![Duration::ZERO, Duration::from_millis(5)],
            delivered: vec![Duration::ZERO],
            rule: None,
        },
        10,
    );
    r.event(
        Some(1),
        What::Exited {
            status: Ended::Code(0),
        },
    );
    assert!(!r.read(|l| l.nobody_left_for(0)), "a copy is on its way");
    r.delivered(0, i, r.now());
    assert!(r.read(|l| l.nobody_left_for(0)));
    let rec = r.finish();
    assert_eq!(rec.exit_of(1).map(|e| e.1), Some(Ended::Code(0)));
    assert_eq!(rec.datagrams[0].delivered.len(), 2);
    assert_eq!(Ended::Signal(9).to_string(), "killed by SIGKILL");
    assert_eq!(Ended::Signal(15).verb(), "was killed by SIGTERM");
    assert_eq!(Ended::Code(3).verb(), "exited with exit code 3");
    assert_eq!(Ended::Signal(11).had(), "had been killed by SIGSEGV");
    assert_eq!(Ended::Code(0).had(), "had exited with exit code 0");
}

fn datagram(at: u64, from: usize, to: usize, fate: Fate) -> Datagram {
    Datagram {
        sent: Duration::from_millis(at),
        from,
        to,
        bytes: vec![MsgType::ReadReq as u8, b'K'],
        fate,
        delays: vec![Duration::ZERO; fate.copies()],
        delivered: vec![Duration::ZERO; fate.copies()],
        rule: (fate == Fate::Dropped).then_some(1),
    }
}

#[test]
fn past_its_bound_the_record_counts_what_it_does_not_keep() {
    let r = Recorder::new(
        "t",
        1,
        ten_seconds(),
        vec![NodeRecord::new("server"), NodeRecord::new("client")],
    );
    let kept: Vec<Option<usize>> = (0..5)
        .map(|i| r.datagram(datagram(i, 1, 0, Fate::Delivered), 3))
        .collect();
    assert_eq!(kept, [Some(0), Some(1), Some(2), None, None]);
    r.datagram(datagram(7, 1, 0, Fate::Dropped), 3);
    r.datagram(datagram(9, 0, 1, Fate::Refused), 3);
    // Deliveries of datagrams not kept still count for their receiver.
    assert_eq!(r.read(|l| l.delivered_to[0]), 5);
    let rec = r.finish();
    assert_eq!(rec.datagrams.len(), 3, "the first three, in order");
    assert_eq!(rec.datagrams[2].sent, Duration::from_millis(2));
    assert_eq!(rec.unkept(), 4);
    let t = &rec.traffic;
    assert_eq!(t.received(), 7);
    assert_eq!(t.links[1][0].all, 6);
    assert_eq!(t.links[1][0].of(Some(MsgType::ReadReq)), 6);
    assert_eq!(t.links[1][0].of(Some(MsgType::ReadRep)), 0);
    assert_eq!(t.links[1][0].last, Some(Fate::Dropped));
    assert_eq!(t.fired, [0, 1]);
    let client = t.senders[1];
    assert_eq!(
        (client.sent, client.refused, client.first, client.last),
        (6, 0, Duration::ZERO, Duration::from_millis(7))
    );
    assert_eq!(t.senders[0].refused, 1);
    assert_eq!(Traffic::of(2, &rec.datagrams).received(), 3);
}

#[test]
fn a_failed_script_or_a_flood_decides_the_test() {
    let r = Recorder::new("t", 1, ten_seconds(), vec![NodeRecord::new("a")]);
    r.event(Some(0), What::ScriptStarted);
    r.event(Some(0), What::KilledAtEnd);
    assert!(!r.read(|l| l.decided));
    let ended = |actual: &str| What::ScriptEnded {
        error: Some(ScriptError {
            step: 1,
            kind: "recv",
            expected: "a datagram".into(),
            actual: actual.into(),
        }),
    };
    assert!(
        !ended(super::super::script::ENDED).decides(),
        "interrupted by the end of the test"
    );
    assert!(
        !ended(super::super::script::TIME_UP).decides(),
        "cut short by the test's time limit, which the runner sees too"
    );
    assert!(ended("nothing arrived in 5s").decides());
    r.event(Some(0), What::SendRateExceeded { limit: 10 });
    assert!(r.read(|l| l.decided));
}

#[test]
fn a_forged_datagram_is_delivered_but_sent_by_no_one() {
    let mut probe = NodeRecord::new("probe");
    probe.script = true;
    let r = Recorder::new(
        "t",
        1,
        ten_seconds(),
        vec![NodeRecord::new("server"), NodeRecord::new("client"), probe],
    );
    let forged = |to: usize| Forged {
        sent: Duration::from_millis(1),
        from: 0,
        to,
        stranger: true,
        bytes: vec![MsgType::ReadRep as u8],
        rule: 2,
        changes: "from a stranger".into(),
    };
    r.datagram(datagram(0, 0, 2, Fate::Delivered), 10);
    r.forged(forged(2), 1);
    r.forged(forged(1), 1);
    // The probe's second delivery (number 1) was forged; a program's
    // deliveries are not marked (only the grader reads a scripted node's).
    assert_eq!(r.read(|l| l.delivered_to.clone()), [0, 1, 2]);
    assert_eq!(
        r.read(|l| l.forged_to.clone()),
        [BTreeSet::new(), BTreeSet::new(), BTreeSet::from([1])]
    );
    let rec = r.finish();
    assert_eq!(rec.datagrams.len(), 1);
    assert_eq!(rec.forged, [forged(2)], "kept up to the bound");
    let t = &rec.traffic;
    assert_eq!((t.forged, t.fired.as_slice()), (2, &[0, 0, 2][..]));
    assert_eq!(
        (t.received(), t.links[0][1].all, t.senders[0].sent),
        (1, 0, 1)
    );
}
