use std::collections::BTreeMap;

use handout::{Message, MsgType};
use roxmltree::{Document, Node};

use super::*;
use crate::judge::{Check, Failure, Kind};
use crate::run::record::{Ended, Forged, Line, NodeRecord, Traffic};

fn t(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

fn ms_(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A datagram carrying `kind key value`, sent at `at`; its copies delivered
/// after `delays`.
fn datagram(
    at: Duration,
    (from, to): (usize, usize),
    (kind, key, value): (MsgType, &str, &str),
    fate: Fate,
    delays: &[u64],
    rule: Option<usize>,
) -> Datagram {
    let delays: Vec<Duration> = delays.iter().map(|&d| ms_(d)).collect();
    Datagram {
        sent: at,
        from,
        to,
        bytes: Message::new(kind, key, value).unwrap().encode(),
        fate,
        delivered: delays.iter().map(|&d| at + d + t(150)).collect(),
        delays,
        rule,
    }
}

fn event(at: Duration, node: Option<usize>, what: What) -> Event {
    Event { at, node, what }
}

fn line(at: Duration, text: &str) -> Line {
    Line {
        at,
        text: text.to_string(),
    }
}

const CLIENT: usize = 0;
const PRIMARY: usize = 1;
const BACKUP0: usize = 2;
const BACKUP1: usize = 3;
const PROBE: usize = 4;

/// A run of hw5's `loss` test, by hand: the backups, the primary, the
/// client and the grader's probe; one write with every fault the test
/// has (the first request dropped, a forward dropped, an acknowledgement
/// duplicated, one delayed), a forgery, garbage, a read, a signal and the
/// exits.
fn hw5() -> Record {
    use Fate::*;
    use MsgType::*;
    let (w, r, wr, rr) = (WriteReq, ReadReq, WriteRep, ReadRep);
    let mut nodes: Vec<NodeRecord> = ["client", "primary", "backup0", "backup1", "probe"]
        .iter()
        .map(|n| NodeRecord::new(n))
        .collect();
    nodes[PROBE].script = true;
    for (i, n) in nodes.iter_mut().enumerate().take(PROBE) {
        n.port = Some(40_000 + i as u16);
    }
    nodes[BACKUP0].member = Some(("backup".into(), 0));
    nodes[BACKUP1].member = Some(("backup".into(), 1));
    let mut datagrams = vec![
        // The first request: dropped by rule 1; the client sends it again.
        datagram(
            ms_(12),
            (CLIENT, PRIMARY),
            (w, "k1", "v1"),
            Dropped,
            &[],
            Some(0),
        ),
        datagram(
            ms_(92),
            (CLIENT, PRIMARY),
            (w, "k1", "v1"),
            Delivered,
            &[0],
            None,
        ),
        // The forward to backup0: dropped by rule 2, then sent again.
        datagram(
            ms_(93),
            (PRIMARY, BACKUP0),
            (w, "k1", "v1"),
            Dropped,
            &[],
            Some(1),
        ),
        datagram(
            ms_(93) + t(40),
            (PRIMARY, BACKUP1),
            (w, "k1", "v1"),
            Delivered,
            &[0],
            None,
        ),
        datagram(
            ms_(94),
            (BACKUP1, PRIMARY),
            (wr, "k1", ""),
            Dropped,
            &[],
            Some(2),
        ),
        datagram(
            ms_(123),
            (PRIMARY, BACKUP0),
            (w, "k1", "v1"),
            Delivered,
            &[0],
            None,
        ),
        datagram(
            ms_(123) + t(30),
            (PRIMARY, BACKUP1),
            (w, "k1", "v1"),
            Delivered,
            &[40],
            None,
        ),
        // backup0's acknowledgement, delivered twice by rule 5.
        datagram(
            ms_(124),
            (BACKUP0, PRIMARY),
            (wr, "k1", ""),
            Duplicated,
            &[0, 3],
            Some(4),
        ),
        datagram(
            ms_(164),
            (BACKUP1, PRIMARY),
            (wr, "k1", ""),
            Delivered,
            &[0],
            None,
        ),
        // The answer: dropped by rule 4; the client asks again.
        datagram(
            ms_(165),
            (PRIMARY, CLIENT),
            (wr, "k1", ""),
            Dropped,
            &[],
            Some(3),
        ),
        datagram(
            ms_(245),
            (CLIENT, PRIMARY),
            (w, "k1", "v1"),
            Delivered,
            &[0],
            None,
        ),
        datagram(
            ms_(246),
            (PRIMARY, CLIENT),
            (wr, "k1", ""),
            Delivered,
            &[0],
            None,
        ),
        // A read.
        datagram(
            ms_(250),
            (CLIENT, PRIMARY),
            (r, "k1", ""),
            Delivered,
            &[0],
            None,
        ),
        datagram(
            ms_(251),
            (PRIMARY, CLIENT),
            (rr, "k1", "v1"),
            Delivered,
            &[0],
            None,
        ),
    ];
    // Garbage the primary sent: not a record.
    datagrams.push(Datagram {
        bytes: vec![0x21; 33],
        ..datagram(
            ms_(252),
            (PRIMARY, BACKUP1),
            (w, "x", ""),
            Delivered,
            &[0],
            None,
        )
    });
    let forged = vec![Forged {
        sent: ms_(246) + t(100),
        from: PRIMARY,
        to: CLIENT,
        stranger: true,
        bytes: Message::new(wr, "k1", "").unwrap().encode(),
        rule: 5,
        changes: "from a stranger".into(),
    }];
    let started = |n: &str| What::Started {
        command: vec![n.to_string(), "{port}".into()],
        pid: 100,
    };
    let events = vec![
        event(ms_(1), Some(BACKUP0), started("server")),
        event(ms_(2), Some(BACKUP1), started("server")),
        event(ms_(4), Some(PRIMARY), started("server")),
        event(ms_(5), Some(PROBE), What::ScriptStarted),
        event(ms_(10), Some(CLIENT), started("client")),
        event(
            ms_(260),
            Some(CLIENT),
            What::Exited {
                status: Ended::Code(0),
            },
        ),
        event(
            ms_(270),
            Some(PRIMARY),
            What::Signalled {
                signal: nix::sys::signal::Signal::SIGTERM,
            },
        ),
        event(
            ms_(272),
            Some(PRIMARY),
            What::Exited {
                status: Ended::Code(0),
            },
        ),
        event(ms_(280), Some(PROBE), What::ScriptEnded { error: None }),
        event(ms_(290), Some(BACKUP0), What::KilledAtEnd),
        event(ms_(290), Some(BACKUP1), What::KilledAtEnd),
    ];
    nodes[CLIENT].stderr = vec![line(ms_(11), "client: seed 3")];
    nodes[CLIENT].stdout = vec![
        line(ms_(12), "Request ID: 1"),
        line(ms_(12), "Sent bytes: 33"),
        line(ms_(12), "Type: WRITE_REQ Key: k1 Value: v1"),
        line(ms_(247), "Received bytes: 17"),
        line(ms_(247), "Type: WRITE_REP Key: k1 Value: "),
        line(ms_(251) + t(400), "Type: READ_REP Key: k1 Value: v1"),
        line(ms_(259), "Goodbye"),
    ];
    nodes[BACKUP0].stdout = vec![
        line(ms_(123) + t(300), "Type: WRITE_REQ Key: k1 Value: v1"),
        line(ms_(123) + t(320), "Write is Done"),
    ];
    nodes[PRIMARY].stderr = vec![line(
        ms_(5),
        "server: primary on 127.0.0.1:40001, backups 127.0.0.1:40002 127.0.0.1:40003",
    )];
    Record {
        test: "loss".into(),
        seed: 3,
        events,
        forged,
        duration: ms_(290),
        ..Record::of(nodes, datagrams)
    }
}

/// A failed check of `kind` on `node`, found at `place`.
fn failed(kind: &'static str, node: Option<&str>, summary: &str, place: Option<Place>) -> Check {
    Check {
        kind: Kind::new(kind),
        node: node.map(str::to_string),
        failure: Some(Failure {
            place,
            ..Failure::new(summary)
        }),
    }
}

fn verdict(checks: Vec<Check>) -> Verdict {
    Verdict {
        status: Status::Failed,
        checks,
        holes: vec![],
    }
}

/// The verdict a program that acknowledged too early would get.
fn early() -> Verdict {
    verdict(vec![
        failed(
            "replicas",
            Some("backup1"),
            "backup1 does not hold k1 when the client is told the write is done",
            Some(Place::Time(ms_(246))),
        ),
        failed(
            "acknowledged",
            Some("primary"),
            "the primary answered before backup0 acknowledged",
            Some(Place::Datagram(11)),
        ),
        failed(
            "stdout_includes",
            Some("client"),
            "client printed no READ_REP for k1",
            Some(Place::Line {
                stream: Stream::Stdout,
                line: 6,
            }),
        ),
        failed("exit", Some("primary"), "no place at all", None),
    ])
}

/// Parses `svg` as XML, showing it when it does not parse.
fn parse(svg: &str) -> Document<'_> {
    match Document::parse(svg) {
        Ok(d) => d,
        Err(e) => panic!("not well-formed XML: {e}\n{svg}"),
    }
}

fn has_class(n: &Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|w| w == class))
}

fn groups<'a>(doc: &'a Document, class: &str) -> Vec<Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && has_class(n, class))
        .collect()
}

/// The datagram indices each `datagram` group stands for, with its fate.
fn drawn(doc: &Document) -> BTreeMap<usize, String> {
    let mut seen = BTreeMap::new();
    for g in groups(doc, "datagram") {
        let fate = g.attribute("data-fate").expect("data-fate").to_string();
        let indices = g
            .attribute("data-indices")
            .or(g.attribute("data-index"))
            .expect("data-index");
        for i in indices.split(' ') {
            let i: usize = i.parse().unwrap();
            assert!(seen.insert(i, fate.clone()).is_none(), "#{i} drawn twice");
        }
    }
    seen
}

fn height(doc: &Document) -> f64 {
    doc.root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap()
}

fn texts(n: &Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The label drawn for datagram `i` (the text of its group, tooltip aside).
fn label_of(doc: &Document, i: usize) -> String {
    let g = groups(doc, "datagram")
        .into_iter()
        .find(|g| g.attribute("data-index") == Some(&i.to_string()))
        .unwrap_or_else(|| panic!("no group for #{i}"));
    g.children()
        .filter(|c| c.has_tag_name("text"))
        .map(|c| texts(&c))
        .collect()
}

/// Every datagram of the record is one group with its fate; lost ones end
/// in a cross, duplicated ones have an arrow per copy; forgeries are apart.
#[test]
fn every_datagram_is_one_arrow_with_its_fate() {
    let r = hw5();
    let picture = svg(&r, Some(&early()));
    let doc = parse(&picture);
    let seen = drawn(&doc);
    let expected: BTreeMap<usize, String> = (r.datagrams.iter().enumerate())
        .map(|(i, d)| (i, d.fate.name().to_string()))
        .collect();
    assert_eq!(seen, expected);
    for g in groups(&doc, "datagram") {
        let arrows = g.children().filter(|c| has_class(c, "arrow")).count();
        let crosses = g.children().filter(|c| has_class(c, "cross")).count();
        let (want_arrows, want_crosses) = match g.attribute("data-fate").unwrap() {
            "delivered" => (1, 0),
            "duplicated" => (2, 0),
            _ => (1, 1),
        };
        let i = g.attribute("data-index").unwrap();
        assert_eq!((arrows, crosses), (want_arrows, want_crosses), "#{i}");
        assert!(
            g.children().any(|c| c.has_tag_name("title")),
            "#{i} has a tooltip"
        );
    }
    let forged = groups(&doc, "forged");
    assert_eq!(forged.len(), r.forged.len());
    assert!(forged.iter().all(|g| g.attribute("data-index").is_none()));
    assert!(texts(&forged[0]).contains("forged WRITE_REP k1 · rule 6"));
    // What the network did, and which rule did it.
    assert_eq!(label_of(&doc, 0), "WRITE_REQ k1 · dropped, rule 1");
    assert_eq!(label_of(&doc, 6), "WRITE_REQ k1 · +40 ms");
    assert_eq!(label_of(&doc, 7), "WRITE_REP k1 · duplicated, rule 5");
    assert_eq!(label_of(&doc, 14), "33 bytes, not a record");
    // The tooltip: the whole record and its times.
    let title = texts(&groups(&doc, "datagram")[6]);
    assert!(
        title.contains("Type: WRITE_REQ Key: k1 Value: v1"),
        "{title}"
    );
    assert!(title.contains("sent 123.030 ms"), "{title}");
    assert!(
        title.contains("delivered 163.180 ms (held 40.000 ms)"),
        "{title}"
    );
}

/// The lifelines are titled by node, the grader's peer marked as its own,
/// the initiator of the traffic on the left.
#[test]
fn lifelines_are_named_in_the_order_of_the_traffic() {
    let r = hw5();
    let picture = svg(&r, None);
    let doc = parse(&picture);
    let nodes: Vec<(String, f64, bool)> = groups(&doc, "node")
        .iter()
        .map(|g| {
            let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
            let x: f64 = rect.attribute("x").unwrap().parse().unwrap();
            (
                g.attribute("data-node").unwrap().to_string(),
                x,
                has_class(g, "grader"),
            )
        })
        .collect();
    let mut by_x = nodes.clone();
    by_x.sort_by(|a, b| a.1.total_cmp(&b.1));
    let names: Vec<&str> = by_x.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(names, ["client", "primary", "backup0", "backup1", "probe"]);
    assert!(by_x[4].2 && !by_x[0].2, "only the probe is the grader's");
    // Marks: starts, the signal, exits, kills.
    let events: Vec<String> = groups(&doc, "event")
        .iter()
        .map(|g| g.attribute("class").unwrap().to_string())
        .collect();
    assert_eq!(events.iter().filter(|c| *c == "event start").count(), 5);
    assert_eq!(events.iter().filter(|c| *c == "event signal").count(), 1);
    assert_eq!(events.iter().filter(|c| *c == "event exit").count(), 3);
    assert_eq!(events.iter().filter(|c| *c == "event kill").count(), 2);
    // Every printed line, on its stream.
    let lines = groups(&doc, "line");
    assert_eq!(lines.iter().filter(|g| has_class(g, "stdout")).count(), 9);
    assert_eq!(lines.iter().filter(|g| has_class(g, "stderr")).count(), 2);
}

/// Each failed check is in the legend and drawn where it happened: a band
/// at its moment, a glow behind its datagram, its line highlighted.
#[test]
fn failed_checks_are_drawn_where_they_happened() {
    let r = hw5();
    let picture = svg(&r, Some(&early()));
    let doc = parse(&picture);
    let legend: Vec<String> = (doc.descendants())
        .filter(|n| has_class(n, "failure"))
        .map(|n| texts(&n))
        .collect();
    assert_eq!(legend.len(), 4, "{legend:?}");
    assert!(legend[0].starts_with("[1] replicas backup1: backup1 does not hold k1"));
    assert!(legend[0].contains("(at 246 ms)"), "{}", legend[0]);
    assert!(legend[3].starts_with("[4] exit primary: no place at all"));
    let bands = groups(&doc, "band");
    assert_eq!(bands.len(), 1);
    assert_eq!(bands[0].attribute("data-check"), Some("1"));
    let marked: Vec<Node> = (doc.descendants())
        .filter(|n| n.attribute("data-check").is_some() && n.has_tag_name("g"))
        .collect();
    let g = marked.iter().find(|g| has_class(g, "datagram")).unwrap();
    assert_eq!(g.attribute("data-index"), Some("11"));
    assert_eq!(g.attribute("data-check"), Some("2"));
    assert!(g.children().any(|c| has_class(&c, "glow")));
    let l = marked.iter().find(|g| has_class(g, "line")).unwrap();
    assert_eq!(l.attribute("data-node"), Some("client"));
    assert_eq!(l.attribute("data-line"), Some("6"));
    assert!(texts(l).contains("[3] | Type: READ_REP"), "{}", texts(l));
    // A line one past the end: a band where the output ended.
    let v = verdict(vec![failed(
        "stdout",
        Some("client"),
        "client printed too little",
        Some(Place::Line {
            stream: Stream::Stdout,
            line: 99,
        }),
    )]);
    let picture = svg(&r, Some(&v));
    let doc2 = parse(&picture);
    let bands = groups(&doc2, "band");
    assert_eq!(bands.len(), 1);
    assert!(
        texts(&bands[0]).contains("260.000 ms"),
        "at the client's exit"
    );
    // A step: a band when it began.
    let mut r = r;
    r.events
        .push(event(ms_(200), None, What::Step { index: 2 }));
    r.events.sort_by_key(|e| e.at);
    let v = verdict(vec![failed(
        "step",
        None,
        "the step timed out",
        Some(Place::Step(2)),
    )]);
    let picture = svg(&r, Some(&v));
    let doc = parse(&picture);
    let bands = groups(&doc, "band");
    assert!(
        texts(&bands[0]).contains("at 200.000 ms"),
        "{}",
        texts(&bands[0])
    );
}

/// Text from the programs and the wire is escaped, whatever it holds.
#[test]
fn text_is_escaped() {
    let mut r = hw5();
    r.nodes[CLIENT].stdout[0].text = "a <b> & \"c\" 'd' \u{1b}[31m \u{0} \u{FFFF}".into();
    r.nodes[CLIENT].name = "cl<i>ent&\"".into();
    r.datagrams[1].bytes = Message::new(MsgType::WriteReq, "<&>\"'", "]]>")
        .unwrap()
        .encode();
    r.test = "te<s>t & \"q\"".into();
    let v = verdict(vec![failed(
        "x",
        Some("cl<i>ent&\""),
        "summary <&> \"quoted\"",
        Some(Place::Line {
            stream: Stream::Stdout,
            line: 1,
        }),
    )]);
    let picture = svg(&r, Some(&v));
    let doc = parse(&picture);
    let all = texts(&doc.root_element());
    assert!(
        all.contains("| a <b> & \"c\" 'd' \\u{1b}[31m \\u{0} \\u{ffff}"),
        "{all}"
    );
    assert!(all.contains("WRITE_REQ <&>\"'"), "{all}");
    assert!(all.contains("Value: ]]>"), "{all}");
    assert!(all.contains("summary <&> \"quoted\""), "{all}");
    assert!(
        groups(&doc, "node")
            .iter()
            .any(|g| g.attribute("data-node") == Some("cl<i>ent&\""))
    );
    assert!(
        groups(&doc, "line")
            .iter()
            .any(|g| g.attribute("data-check") == Some("1")),
        "a check finds its node by name, however odd"
    );
}

/// Pure SVG and CSS: no script, nothing fetched, and the same bytes for
/// the same record.
#[test]
fn self_contained_and_deterministic() {
    let r = hw5();
    let a = svg(&r, Some(&early()));
    assert_eq!(a, svg(&r.clone(), Some(&early())));
    let doc = parse(&a);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(doc.descendants().any(|n| n.has_tag_name("style")));
    for n in doc.descendants() {
        assert!(
            !["script", "image", "foreignObject", "use", "a"].contains(&n.tag_name().name()),
            "{:?}",
            n.tag_name()
        );
        for a in n.attributes() {
            assert!(
                !a.name().starts_with("on") && !a.value().contains("url("),
                "{}={}",
                a.name(),
                a.value()
            );
        }
    }
    assert!(!a.contains("http://") || a.matches("http://").count() == 1);
    assert!(!a.contains("@import"));
}

/// A record of one node, sending to another: `n` datagrams, alternating
/// between the two directions when `alternate`, one every millisecond.
fn chatty(n: usize, alternate: bool) -> Record {
    let nodes = vec![NodeRecord::new("client"), NodeRecord::new("server")];
    let datagrams: Vec<Datagram> = (0..n)
        .map(|i| {
            let link = if alternate && i % 2 == 1 {
                (1, 0)
            } else {
                (0, 1)
            };
            let key = format!("k{}", i % 7);
            datagram(
                ms_(i as u64),
                link,
                (MsgType::ReadReq, &key, ""),
                if i % 5 == 4 {
                    Fate::Dropped
                } else {
                    Fate::Delivered
                },
                if i % 5 == 4 { &[] } else { &[0] },
                None,
            )
        })
        .collect();
    Record {
        duration: ms_(n as u64),
        ..Record::of(nodes, datagrams)
    }
}

/// The bound on any diagram's height: the top, one page, the notes.
const MAX_HEIGHT: f64 = 140.0 + 16.0 * 9.0 + 60.0 + PAGE_HEIGHT + MAX_GAP;

/// Five hundred datagrams no fold can join take pages side by side, each
/// drawn once; five hundred alike ones fold into one arrow.
#[test]
fn many_datagrams_stay_within_a_bounded_height() {
    let r = chatty(500, true);
    let picture = svg(&r, None);
    let doc = parse(&picture);
    assert!(height(&doc) <= MAX_HEIGHT, "{}", height(&doc));
    assert_eq!(drawn(&doc).len(), 500);
    assert!(groups(&doc, "page").len() > 1);
    assert!(picture.len() < 600_000, "{} bytes", picture.len());

    // A flood: the same request again and again, every fifth dropped.
    let mut r = chatty(500, false);
    for d in &mut r.datagrams {
        d.fate = Fate::Delivered;
        d.delays = vec![Duration::ZERO];
        d.bytes = Message::new(MsgType::ReadReq, "k", "").unwrap().encode();
    }
    let picture = svg(&r, None);
    let doc = parse(&picture);
    let arrows = groups(&doc, "datagram");
    assert_eq!(arrows.len(), 1);
    assert_eq!(drawn(&doc).len(), 500);
    assert!(texts(&arrows[0]).contains("READ_REQ k ×500"));
    assert!(height(&doc) < 400.0, "{}", height(&doc));
    // Runs shorter than FOLD stay as they are.
    let r = chatty(50, false);
    let picture = svg(&r, None);
    let doc = parse(&picture);
    assert_eq!(drawn(&doc).len(), 50);
    assert!(groups(&doc, "datagram").iter().all(|g| {
        g.attribute("data-indices")
            .is_none_or(|i| i.split(' ').count() >= FOLD)
    }));
}

/// A record past what the pages hold stops, saying what it left out, and
/// counts what the record itself did not keep.
#[test]
fn a_huge_record_stops_and_says_so() {
    let mut r = chatty(5000, true);
    r.traffic = Traffic::of(2, &r.datagrams);
    r.traffic.senders[0].sent += 1234;
    let picture = svg(&r, None);
    let doc = parse(&picture);
    assert!(height(&doc) <= MAX_HEIGHT, "{}", height(&doc));
    assert_eq!(groups(&doc, "page").len(), MAX_PAGES);
    let all = texts(&doc.root_element());
    let drawn = drawn(&doc).len();
    assert!(drawn < 5000);
    assert!(
        all.contains(&format!("{} more datagrams", 5000 - drawn)),
        "{all}"
    );
    assert!(all.contains("1234 more were not kept"), "{all}");
}

/// A record with nothing in it still draws.
#[test]
fn an_empty_record_draws() {
    let r = Record::of(vec![NodeRecord::new("server")], vec![]);
    let picture = svg(&r, None);
    let doc = parse(&picture);
    assert_eq!(drawn(&doc).len(), 0);
    let r = Record::of(vec![], vec![]);
    parse(&svg(&r, None));
}

/// Writes the hand-built hw5 example to `$DIAGRAM_EXAMPLE`, to look at.
#[test]
#[ignore = "writes a file: DIAGRAM_EXAMPLE=/tmp/x.svg cargo test -p grader -- --ignored diagram"]
fn write_an_example() {
    let Some(path) = std::env::var_os("DIAGRAM_EXAMPLE") else {
        panic!("set DIAGRAM_EXAMPLE to the file to write");
    };
    std::fs::write(path, svg(&hw5(), Some(&early()))).unwrap();
}

/// Runs a test of the reference solutions and draws it to
/// `$DIAGRAM_REAL` (default: hw5 `loss`, seed 3).
#[test]
#[ignore = "runs a lab: DIAGRAM_REAL=/tmp/x.svg [DIAGRAM_LAB=hw5 DIAGRAM_TEST=loss] cargo test -p grader -- --ignored diagram"]
fn draw_a_real_run() {
    use crate::grade::{self, Built};
    use crate::kit::{Kit, Source};
    let var = |k: &str, or: &str| std::env::var(k).unwrap_or_else(|_| or.to_string());
    let kit = Kit::find(None).unwrap();
    let lab = kit.lab(&var("DIAGRAM_LAB", "hw5")).unwrap();
    let (spec, built) = grade::prepare(&kit, &lab, &Source::Solution).unwrap();
    let Built::Programs(programs) = built else {
        panic!("the solution does not build")
    };
    let name = var("DIAGRAM_TEST", "loss");
    let test = spec.tests.iter().find(|t| t.name == name).unwrap();
    let (record, verdict) = grade::run_one(&spec, test, &programs, 3).unwrap();
    let picture = svg(&record, Some(&verdict));
    let doc = parse(&picture);
    assert_eq!(drawn(&doc).len(), record.datagrams.len());
    std::fs::write(var("DIAGRAM_REAL", "/tmp/diagram-real.svg"), &picture).unwrap();
}
