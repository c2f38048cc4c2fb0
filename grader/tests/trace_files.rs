//! The capture the grader writes of a run opens in tshark, and the kit's
//! Wireshark dissector (`specs/dslab.lua`) decodes every packet of it: the
//! right count, addresses, ports and lengths, and each record's type, key
//! and value by name.
//!
//! tshark comes from the distribution's packages: if it is not on PATH,
//! the test installs it where it can (as root, with apt-get, as CI runs),
//! and otherwise says it is skipped, and why, on the terminal.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{TempDir, root};
use grader::report::pcap;
use grader::run::clock::Clock;
use grader::run::record::{Datagram, Fate, Forged, NodeRecord, Record, Traffic};
use handout::{Message, MsgType};

/// The server's own port. 20000 is also DNP 3.0's: the dissector must win
/// it by its heuristic, as it would in a real capture of leased ports.
const SERVER: u16 = 20000;

/// The faces of the proxy: `faces[from][to]`.
const FACES: [[u16; 2]; 2] = [[40000, 40001], [40002, 40003]];

/// The made-up port of the client, which has none of its own in the record.
const CLIENT: u16 = pcap::MADE_UP_PORTS;

/// The stranger's made-up port: the next one after the client's.
const STRANGER: u16 = pcap::MADE_UP_PORTS + 1;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn datagram(at: u64, from: usize, m: &Message, full: bool, fate: Fate) -> Datagram {
    let delivered = match fate {
        Fate::Delivered => vec![ms(at + 1)],
        Fate::Duplicated => vec![ms(at + 1), ms(at + 2)],
        _ => vec![],
    };
    Datagram {
        sent: ms(at),
        from,
        to: 1 - from,
        bytes: if full {
            m.encode_full().to_vec()
        } else {
            m.encode()
        },
        fate,
        delays: vec![Duration::ZERO; delivered.len()],
        delivered,
        rule: None,
    }
}

/// A client (node 0, no port of its own) and a server (node 1): a hw1
/// READ_REQ of 33 bytes (not its usual 17) and its reply, duplicated; a
/// WRITE_REQ dropped, then sent again and answered with a 17-byte
/// WRITE_REP; and a WRITE_REQ a stranger forged from the second one.
fn record() -> Record {
    let mut client = NodeRecord::new("client");
    client.faces = FACES[0].to_vec();
    let mut server = NodeRecord::new("server");
    server.port = Some(SERVER);
    server.faces = FACES[1].to_vec();
    let m = |kind, key, value| Message::new(kind, key, value).unwrap();
    let read = m(MsgType::ReadReq, "AAAAAAAAAAotIhz", "AAAABBBBCCCCDDD");
    let reply = m(MsgType::ReadRep, "AAAAAAAAAAotIhz", "DDDCCCCBBBBAAAA");
    let write = m(MsgType::WriteReq, "k2", "v2");
    let done = m(MsgType::WriteRep, "k2", "");
    let datagrams = vec![
        datagram(10, 0, &read, true, Fate::Delivered),
        datagram(20, 1, &reply, false, Fate::Duplicated),
        datagram(30, 0, &write, false, Fate::Dropped),
        datagram(40, 0, &write, false, Fate::Delivered),
        datagram(50, 1, &done, false, Fate::Delivered),
    ];
    let forged = Forged {
        sent: ms(40),
        from: 0,
        to: 1,
        stranger: true,
        bytes: m(MsgType::WriteReq, "k2", "forged").encode(),
        rule: 0,
        changes: "from a stranger, value forged".into(),
    };
    Record {
        test: "trace".into(),
        seed: 7,
        traffic: Traffic::of(2, &datagrams),
        nodes: vec![client, server],
        events: Vec::new(),
        datagrams,
        forged: vec![forged],
        duration: ms(100),
        clock: Clock::new(Duration::from_secs(10), Duration::from_secs(10)),
        vars: Default::default(),
        queries: Vec::new(),
    }
}

/// Says on the terminal, past the test harness's capture of `println!`,
/// that the test is skipped and why.
fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "trace_files: skipped: {why}");
}

/// Whether `tshark` runs.
fn tshark_runs() -> bool {
    Command::new("tshark")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes sure tshark is there, once for all the tests of this file:
/// installs it from the distribution's packages as root where apt-get
/// exists (refreshing the package lists only if a first try fails).
/// Returns why not, if it cannot be had.
fn tshark() -> Result<(), String> {
    static TSHARK: OnceLock<Result<(), String>> = OnceLock::new();
    TSHARK.get_or_init(install_tshark).clone()
}

fn install_tshark() -> Result<(), String> {
    if tshark_runs() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    common::install_package("tshark", "tshark is not on PATH")?;
    let _ = writeln!(
        std::io::stderr(),
        "trace_files: installed tshark in {:.0?}",
        started.elapsed()
    );
    if tshark_runs() {
        Ok(())
    } else {
        Err("tshark was installed but does not run".into())
    }
}

/// One line of tshark's fields: ip.src, udp.srcport, udp.dstport,
/// udp.length, dslab.type, dslab.key, dslab.value.
type Row = (String, u16, u16, usize, String, String, String);

/// What tshark must print for [`record`]: each leg of each datagram in
/// time order, with a UDP length of 8 bytes of header plus the record.
fn expected() -> Vec<Row> {
    let row = |src, dst, len: usize, kind: &str, key: &str, value: &str| {
        let s = |x: &str| x.to_string();
        (s("127.0.0.1"), src, dst, 8 + len, s(kind), s(key), s(value))
    };
    let (key, ask, answer) = ("AAAAAAAAAAotIhz", "AAAABBBBCCCCDDD", "DDDCCCCBBBBAAAA");
    let (to_server, at_server) = (FACES[0][1], FACES[1][0]);
    vec![
        // 10 ms: the READ_REQ in (33 bytes, as hw1's client sends it), and out.
        row(CLIENT, to_server, 33, "READ_REQ", key, ask),
        row(at_server, SERVER, 33, "READ_REQ", key, ask),
        // 20 ms: the reply in, and out twice.
        row(SERVER, at_server, 33, "READ_REP", key, answer),
        row(to_server, CLIENT, 33, "READ_REP", key, answer),
        row(to_server, CLIENT, 33, "READ_REP", key, answer),
        // 30 ms: the dropped WRITE_REQ only comes in.
        row(CLIENT, to_server, 33, "WRITE_REQ", "k2", "v2"),
        // 40 ms: the retransmission in, the stranger's forgery, the
        // retransmission out.
        row(CLIENT, to_server, 33, "WRITE_REQ", "k2", "v2"),
        row(STRANGER, SERVER, 33, "WRITE_REQ", "k2", "forged"),
        row(at_server, SERVER, 33, "WRITE_REQ", "k2", "v2"),
        // 50 ms: the short WRITE_REP in and out.
        row(SERVER, at_server, 17, "WRITE_REP", "k2", ""),
        row(to_server, CLIENT, 17, "WRITE_REP", "k2", ""),
    ]
}

fn parse(line: &str) -> Row {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 7, "seven fields in {line:?}");
    let port = |s: &str| s.parse::<u16>().unwrap_or_else(|_| panic!("a port: {s:?}"));
    (
        f[0].to_string(),
        port(f[1]),
        port(f[2]),
        f[3].parse()
            .unwrap_or_else(|_| panic!("a length: {:?}", f[3])),
        f[4].to_string(),
        f[5].to_string(),
        f[6].to_string(),
    )
}

/// tshark reads the capture of a run with the kit's dissector: one packet
/// per leg of each datagram (the dropped one in only, the duplicated one
/// out twice, the forged one out only), between 127.0.0.1's real ports,
/// with the UDP lengths and each record's fields by name.
#[test]
fn tshark_decodes_the_capture_with_the_dissector() {
    if let Err(why) = tshark() {
        skip(&why);
        return;
    }
    let record = record();
    let dir = TempDir::new("trace-files");
    let file = dir.0.join("trace.pcap");
    std::fs::write(&file, pcap::pcap(&record)).expect("the capture is written");
    let dissector = root().join("specs/dslab.lua");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .arg("-X")
        .arg(format!("lua_script:{}", dissector.display()))
        .args(["-T", "fields"])
        .args(["-e", "ip.src", "-e", "udp.srcport", "-e", "udp.dstport"])
        .args(["-e", "udp.length", "-e", "dslab.type", "-e", "dslab.key"])
        .args(["-e", "dslab.value"])
        // tshark keeps its preferences and plugins under $HOME: an empty
        // one, so that nothing of this machine's changes what it decodes.
        .env("HOME", &dir.0)
        .env("XDG_CONFIG_HOME", dir.0.join("config"))
        .output()
        .expect("tshark runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    // As root, tshark says so on stderr; anything from Lua is an error.
    assert!(
        !stderr.contains("Lua"),
        "the dissector did not load: {stderr}"
    );
    let actual: Vec<Row> = stdout.lines().map(parse).collect();
    let expected = expected();
    let copies: usize = (record.datagrams.iter())
        .map(|d| 1 + d.delivered.len())
        .sum();
    assert_eq!(expected.len(), copies + record.forged.len());
    if actual != expected {
        let show = |rows: &[Row]| {
            (rows.iter())
                .map(|r| format!("  {r:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "tshark's fields differ\nexpected:\n{}\nactual:\n{}\ntshark's stderr: {stderr}",
            show(&expected),
            show(&actual)
        );
    }
}

/// The dissector marks what breaks protocol.md's rules, in its words: a
/// record that looks like one by its heuristic, and, with "Decode As",
/// any datagram on a port (here the client's face towards the server).
#[test]
fn the_dissector_marks_malformed_records() {
    if let Err(why) = tshark() {
        skip(&why);
        return;
    }
    let mut record = record();
    record.forged.clear();
    record.datagrams.truncate(4);
    // A key without its NUL; a value that is not UTF-8 (an overlong '/');
    // a datagram of 5 bytes; an unknown type. The last two are dropped:
    // only their leg towards the proxy's face is in the capture.
    record.datagrams[0].bytes[1..17].fill(b'A');
    record.datagrams[1].bytes[17..20].copy_from_slice(&[0xc0, 0xaf, 0]);
    record.datagrams[2].bytes = b"hello".to_vec();
    record.datagrams[3].bytes[0] = 9;
    for d in &mut record.datagrams[2..] {
        d.fate = Fate::Dropped;
        d.delivered.clear();
    }
    let dir = TempDir::new("trace-malformed");
    let file = dir.0.join("malformed.pcap");
    std::fs::write(&file, pcap::pcap(&record)).expect("the capture is written");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .arg("-X")
        .arg(format!(
            "lua_script:{}",
            root().join("specs/dslab.lua").display()
        ))
        .args(["-d", &format!("udp.port=={},dslab", FACES[0][1])])
        .args(["-T", "fields", "-e", "dslab.type", "-e", "dslab.key"])
        .args(["-e", "_ws.expert.message"])
        .env("HOME", &dir.0)
        .env("XDG_CONFIG_HOME", dir.0.join("config"))
        .output()
        .expect("tshark runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let no_nul = "READ_REQ\t\tMalformed record: key is not NUL-terminated within 16 bytes";
    let not_utf8 = "READ_REP\tAAAAAAAAAAotIhz\tMalformed record: value is not UTF-8 text";
    let expected = [
        no_nul,
        no_nul,
        not_utf8,
        not_utf8,
        not_utf8,
        "\t\tMalformed record: datagram of 5 bytes: a record is 17 or 33 bytes",
        "\t\tMalformed record: unknown message type 9",
    ];
    assert_eq!(
        lines, expected,
        "\nactual:   {lines:#?}\nexpected: {expected:#?}"
    );
}
